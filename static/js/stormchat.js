/* Stormchat page behaviour. No inline script anywhere: the CSP forbids it.
 * htmx and its ws extension do the talking; this file adds the keyboard, the draft,
 * the connection badge, streaming state, edit and rename toggles, and the debug panel. */
(function () {
  "use strict";

  const page = document.querySelector(".chat-main");
  const composer = document.getElementById("composer");
  const input = document.getElementById("composer-input");
  const stopButton = document.getElementById("stop-button");
  const messages = document.getElementById("messages");
  const badge = document.getElementById("connection-badge");
  const coarsePointer = window.matchMedia("(pointer: coarse)").matches;

  /* ---- the composer: Enter sends, Shift+Enter (or Enter on touch) adds a line ---- */
  if (composer && input && page) {
    const draftKey = "stormchat:draft:" + page.dataset.chatId;
    input.value = localStorage.getItem(draftKey) || "";
    const autosize = () => {
      input.style.height = "auto";
      input.style.height = Math.min(input.scrollHeight, 240) + "px";
    };
    autosize();
    input.addEventListener("input", () => {
      localStorage.setItem(draftKey, input.value);
      autosize();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !coarsePointer && !event.isComposing) {
        event.preventDefault();
        if (input.value.trim() || attachments.ready()) composer.requestSubmit();
      }
    });
    // The ws extension queues the message while the socket is down and sends it on
    // reconnect, so the text can be cleared once it is handed over.
    composer.addEventListener("htmx:wsConfigSend", (event) => {
      const files = attachments.ready();
      if (!input.value.trim() && !files) {
        event.preventDefault();
        return;
      }
      if (attachments.pending()) {
        event.preventDefault();
        toast("Wait for the files to finish uploading.");
        return;
      }
      awaitingAck = files > 0;
      sentByMe = true;
      setTimeout(() => {
        input.value = "";
        localStorage.removeItem(draftKey);
        autosize();
      }, 0);
      log("send", "chat");
    });
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  /* The API's own message for a refused request, as an Error (else ``fallback``). */
  async function apiError(response, fallback) {
    const data = await response.json().catch(() => ({}));
    return new Error((data.error && data.error.message) || fallback);
  }

  /* POST one file as the multipart field "file": the JSON answer, or the API's refusal
   * as an Error (a network failure stays a TypeError). */
  async function postFile(url, blob, name, fallback) {
    const form = new FormData();
    form.append("file", blob, name);
    const response = await fetch(url, {
      method: "POST",
      body: form,
      headers: { "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
    });
    if (!response.ok) throw await apiError(response, fallback);
    return response.json();
  }

  function toast(text) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const item = document.createElement("p");
    item.className = "toast";
    item.textContent = text;
    box.append(item);
    setTimeout(() => item.remove(), 6000);
  }

  /* ---- attachments: upload on pick, drop or paste; previews with a remove button.
   * They leave the composer when the message is acknowledged; if it is refused (a model
   * that can't see pictures, say) they stay, as the server keeps them too. ---- */
  let awaitingAck = false;
  let sentByMe = false;
  const attachments = (() => {
    const list = document.getElementById("composer-attachments");
    const url = composer ? composer.dataset.attachmentsUrl : "";
    const maxBytes = composer ? Number(composer.dataset.maxBytes || 0) : 0;
    let uploading = 0;
    const refresh = () => {
      if (list) list.hidden = list.children.length === 0;
    };
    async function upload(file) {
      if (!list || !url) return;
      if (maxBytes && file.size > maxBytes) {
        toast(file.name + " is larger than " + Math.floor(maxBytes / 1048576) + " MB.");
        return;
      }
      const chip = document.createElement("li");
      chip.className = "attachment-preview uploading";
      const label = document.createElement("span");
      label.textContent = file.name || "picture";
      chip.append(label);
      list.append(chip);
      refresh();
      uploading += 1;
      try {
        const data = await postFile(url, file, file.name || "picture.png", "That file could not be attached.");
        chip.classList.remove("uploading");
        chip.dataset.attachmentId = data.id;
        if (data.thumbnail_url) {
          const image = document.createElement("img");
          image.src = data.thumbnail_url;
          image.alt = "";
          chip.prepend(image);
        }
        const hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = "attachments";
        hidden.value = data.id;
        chip.append(hidden);
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "remove-attachment";
        remove.setAttribute("aria-label", "Remove " + data.name);
        remove.textContent = "✕";
        remove.addEventListener("click", () => {
          fetch(data.url, { method: "DELETE", headers: { "X-CSRFToken": csrfToken() }, credentials: "same-origin" });
          chip.remove();
          refresh();
        });
        chip.append(remove);
      } catch (error) {
        chip.remove();
        toast(error instanceof TypeError ? "The upload failed; check the connection." : error.message);
      } finally {
        uploading -= 1;
        refresh();
      }
    }
    const take = (files) => Array.from(files || []).forEach(upload);
    for (const id of ["attach-input", "camera-input"]) {
      const picker = document.getElementById(id);
      if (picker) {
        picker.addEventListener("change", () => {
          take(picker.files);
          picker.value = "";
        });
      }
    }
    if (page && list) {
      page.addEventListener("dragover", (event) => {
        if (event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files")) {
          event.preventDefault();
          page.classList.add("dropping");
        }
      });
      page.addEventListener("dragleave", () => page.classList.remove("dropping"));
      page.addEventListener("drop", (event) => {
        page.classList.remove("dropping");
        if (!event.dataTransfer || !event.dataTransfer.files.length) return;
        event.preventDefault();
        take(event.dataTransfer.files);
      });
    }
    if (input) {
      input.addEventListener("paste", (event) => {
        const files = event.clipboardData ? event.clipboardData.files : null;
        if (files && files.length) {
          event.preventDefault();
          take(files);
        }
      });
    }
    return {
      ready: () => (list ? list.querySelectorAll("input[name=attachments]").length : 0),
      pending: () => uploading > 0,
      sent: () => {
        if (!list) return;
        list.replaceChildren();
        refresh();
      },
    };
  })();

  /* ---- the phone's drawer (the list of chats) and the chat's options ---- */
  const drawerToggle = document.querySelector(".drawer-toggle");
  const drawerOpen = () => document.body.dataset.drawer === "open";
  const setDrawer = (open) => {
    if (!drawerToggle) return;
    document.body.dataset.drawer = open ? "open" : "closed";
    drawerToggle.setAttribute("aria-expanded", String(open));
    if (open) {
      const close = document.querySelector(".drawer-close");
      if (close) close.focus();
    } else {
      drawerToggle.focus();
    }
  };
  if (drawerToggle) drawerToggle.addEventListener("click", () => setDrawer(!drawerOpen()));
  document.querySelectorAll("[data-drawer-close]").forEach((button) =>
    button.addEventListener("click", () => setDrawer(false))
  );
  const toolsToggle = document.querySelector(".tools-toggle");
  if (toolsToggle) {
    toolsToggle.addEventListener("click", () => {
      const open = toolsToggle.getAttribute("aria-expanded") !== "true";
      toolsToggle.setAttribute("aria-expanded", String(open));
    });
  }

  /* ---- the microphone: the browser's own recognition, or a recording transcribed by
   * the server (POST /api/transcriptions/); the words go into the composer. Settings:
   * hold to talk, and send when the talking stops (kept in this browser). ---- */
  const voicePref = (name) => localStorage.getItem("stormchat:voice:" + name) === "1";
  document.querySelectorAll("[data-voice-setting]").forEach((box) => {
    box.checked = voicePref(box.dataset.voiceSetting);
    box.addEventListener("change", () =>
      localStorage.setItem("stormchat:voice:" + box.dataset.voiceSetting, box.checked ? "1" : "0")
    );
  });
  const mic = document.getElementById("mic-button");
  if (mic && composer && input) {
    const mode = composer.dataset.stt;
    let recorder = null;
    let recognition = null;
    const setMic = (on) => mic.setAttribute("aria-pressed", String(on));
    const heard = (text) => {
      text = (text || "").trim();
      if (!text) return;
      input.value = (input.value.trim() ? input.value.trimEnd() + " " : "") + text;
      input.dispatchEvent(new Event("input"));
      if (voicePref("auto-send")) composer.requestSubmit();
      else input.focus();
    };
    const transcribe = async (blob) => {
      const url = composer.dataset.transcriptionsUrl;
      const data = await postFile(url, blob, "speech.webm", "The recording could not be transcribed.");
      heard(data.text);
    };
    const start = async () => {
      if (mode === "browser") {
        const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
        if (!Recognition) return toast("This browser can't recognise speech; type instead.");
        recognition = new Recognition();
        recognition.lang = document.documentElement.lang || "en";
        recognition.onresult = (event) =>
          heard(Array.from(event.results).map((result) => result[0].transcript).join(" "));
        recognition.onerror = (event) => toast("Speech recognition stopped: " + event.error);
        recognition.onend = () => setMic(false);
        recognition.start();
        return setMic(true);
      }
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
        const chunks = [];
        recorder = new MediaRecorder(stream);
        recorder.ondataavailable = (event) => event.data.size && chunks.push(event.data);
        recorder.onstop = () => {
          stream.getTracks().forEach((track) => track.stop());
          transcribe(new Blob(chunks, { type: recorder.mimeType })).catch((error) => toast(error.message));
          recorder = null;
        };
        recorder.start();
        setMic(true);
      } catch (error) {
        toast("The microphone is not available: " + error.message);
      }
    };
    const stop = () => {
      if (recognition) recognition.stop();
      if (recorder && recorder.state !== "inactive") recorder.stop();
      recognition = null;
      setMic(false);
    };
    const listening = () => mic.getAttribute("aria-pressed") === "true";
    mic.addEventListener("click", () => {
      if (voicePref("hold-to-talk")) return;
      if (listening()) stop();
      else start();
    });
    mic.addEventListener("pointerdown", () => voicePref("hold-to-talk") && start());
    for (const name of ["pointerup", "pointerleave", "pointercancel"]) {
      mic.addEventListener(name, () => voicePref("hold-to-talk") && listening() && stop());
    }
  }

  /* ---- reading replies aloud: one voice at a time; Esc or a second press stops it ---- */
  const speech = (() => {
    const element = document.getElementById("speech-player");
    let player = null;
    let button = null;
    let queued = [];
    let queuePlaying = false;
    const stop = () => {
      queued = [];
      queuePlaying = false;
      if (player) {
        player.pause();
        URL.revokeObjectURL(player.src);
        player.removeAttribute("src");
      }
      if (button) button.setAttribute("aria-pressed", "false");
      const was = player;
      player = null;
      button = null;
      return !!was;
    };
    const fetchAudio = async (url) => {
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw await apiError(response, "This reply could not be read aloud.");
      return URL.createObjectURL(await response.blob());
    };
    // Parts of a reply as it is written: each is fetched at once (so the server makes
    // them in order) and played after the one before.
    async function playQueue() {
      if (queuePlaying) return;
      queuePlaying = true;
      while (queued.length && queuePlaying) {
        const next = queued.shift();
        try {
          const url = await next;
          if (!queuePlaying) return URL.revokeObjectURL(url);
          player = element || new Audio();
          player.src = url;
          await player.play();
          await new Promise((done) => (player.onended = done));
          URL.revokeObjectURL(url);
        } catch (error) {
          toast(error.message);
        }
      }
      player = null;
      queuePlaying = false;
    }
    const enqueue = (url) => {
      if (button) stop();
      queued.push(fetchAudio(url));
      playQueue();
    };
    async function play(target) {
      const again = button === target;
      stop();
      if (again) return;
      button = target;
      target.setAttribute("aria-pressed", "true");
      try {
        const url = await fetchAudio(target.dataset.speech);
        if (button !== target) return URL.revokeObjectURL(url);
        player = element || new Audio();
        player.src = url;
        player.onended = stop;
        await player.play();
        log("speech", target.dataset.speech);
      } catch (error) {
        if (button === target) stop();
        toast(error.message);
      }
    }
    document.addEventListener("click", (event) => {
      const target = event.target instanceof Element ? event.target.closest(".speak") : null;
      if (target) play(target);
    });
    return { stop, play, enqueue, playing: () => button !== null || queuePlaying };
  })();

  /* ---- replies this tab asked for, read aloud: sentence by sentence as they are
   * written ("Read aloud while writing", GET .../speech/?text=), or whole once complete
   * (the chat's "Read new replies aloud") ---- */
  const aloud = (() => {
    const mine = new Set();
    const said = {};
    const raw = {};
    // Whole sentences written since the last part sent, once there are 40 characters of
    // them (at the end, whatever is left).
    const speakFrom = (id, final) => {
      const text = raw[id] || "";
      const start = said[id] || 0;
      const rest = text.slice(start);
      const ends = /[.!?\u2026]+["'\u201d\u2019*_)\]]*\s+/g;
      let end = final ? rest.length : -1;
      let match;
      while (!final && (match = ends.exec(rest)) !== null) end = match.index + match[0].length;
      if (end > 0 && (final || rest.slice(0, end).trim().length >= 40)) {
        send(id, rest.slice(0, end));
        said[id] = start + end;
      }
    };
    const send = (id, part) => {
      const button = document.querySelector("#message-" + id + " .speak");
      const base = button ? button.dataset.speech : speechUrl(id);
      if (part.trim()) speech.enqueue(base + "?text=" + encodeURIComponent(part.trim()));
    };
    const speechUrl = (id) =>
      "/api/chats/" + (page ? page.dataset.chatId : "") + "/messages/" + id + "/speech/";
    return {
      mine: (id) => mine.add(id),
      written: (id) => {
        if (!mine.has(id)) return;
        const element = document.getElementById("message-" + id + "-text");
        if (element) raw[id] = element.textContent;
        if (voicePref("read-while-writing")) speakFrom(id, false);
      },
      complete: (id) => {
        if (!mine.has(id)) return;
        mine.delete(id);
        if (voicePref("read-while-writing") && raw[id]) {
          speakFrom(id, true);
          return;
        }
        const auto = document.getElementById("auto-read");
        const button = document.querySelector("#message-" + id + " .speak");
        if (auto && auto.checked && button) speech.play(button);
      },
    };
  })();

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    if (drawerOpen()) {
      setDrawer(false);
      return;
    }
    if (speech.playing()) {
      speech.stop();
      return;
    }
    if (document.body.dataset.streaming === "true" && stopButton) stopButton.click();
  });

  /* ---- the installable app: a service worker for the static files and offline page ---- */
  const worker = document.body.dataset.serviceWorker;
  if (worker && "serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register(worker, { scope: "/" }).catch((error) => log("service worker", String(error)));
  }

  /* ---- connection badge ---- */
  let everOpened = false;
  const setBadge = (state) => {
    if (!badge) return;
    badge.dataset.state = state;
    badge.textContent = state;
  };
  document.body.addEventListener("htmx:wsConnecting", () => {
    setBadge(everOpened ? "reconnecting" : "connecting");
    log(everOpened ? "reconnect" : "connect", "");
  });
  document.body.addEventListener("htmx:wsOpen", () => {
    everOpened = true;
    setBadge("connected");
    log("open", "");
  });
  document.body.addEventListener("htmx:wsClose", (event) => {
    const code = event.detail && event.detail.event ? event.detail.event.code : "";
    setBadge(navigator.onLine ? "reconnecting" : "offline");
    log("close", String(code));
  });
  window.addEventListener("offline", () => setBadge("offline"));

  /* ---- after every pushed fragment: streaming state, scroll, debug ---- */
  const nearBottom = () =>
    messages && messages.scrollHeight - messages.scrollTop - messages.clientHeight < 120;
  let stick = true;
  if (messages) messages.addEventListener("scroll", () => (stick = nearBottom()));
  const refreshState = () => {
    const streaming = !!document.querySelector('#messages [data-status="streaming"]');
    document.body.dataset.streaming = String(streaming);
    if (messages && stick) messages.scrollTop = messages.scrollHeight;
  };
  refreshState();
  // The scene panel is redrawn when the scene changes (from any tab): keep it open if it was.
  let sceneOpen = false;
  document.addEventListener(
    "toggle",
    (event) => {
      if (event.target instanceof Element && event.target.id === "scene-panel") {
        sceneOpen = event.target.open;
      }
    },
    true,
  );
  document.body.addEventListener("htmx:wsAfterMessage", () => {
    const panel = document.getElementById("scene-panel");
    if (sceneOpen && panel && !panel.open) panel.open = true;
    refreshState();
    const marker = document.getElementById("ws-event");
    if (marker) onEvent(marker.dataset);
  });

  /* ---- edit and rename toggles ---- */
  document.addEventListener("click", (event) => {
    const target = event.target;
    if (!(target instanceof Element)) return;
    const edit = target.closest("[data-edit]");
    if (edit) {
      const form = edit.closest(".bubble").querySelector(".edit-form");
      form.hidden = !form.hidden;
      edit.setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) form.querySelector("textarea").focus();
      return;
    }
    const cancel = target.closest("[data-cancel-edit]");
    if (cancel) {
      cancel.closest(".edit-form").hidden = true;
      return;
    }
    const rename = target.closest("[data-rename]");
    if (rename) {
      const form = rename.closest("li").querySelector(".rename-form");
      form.hidden = !form.hidden;
      if (!form.hidden) form.querySelector("input[name=title]").select();
    }
  });

  /* ---- debug panel: a timestamped event log and per-reply timings ---- */
  const panel = document.getElementById("debug-panel");
  const toggle = document.querySelector(".debug-toggle");
  const logList = document.getElementById("debug-log");
  const replies = document.getElementById("debug-replies");
  if (toggle && panel) {
    toggle.addEventListener("click", () => {
      panel.hidden = !panel.hidden;
      toggle.setAttribute("aria-expanded", String(!panel.hidden));
    });
  }
  function log(kind, detail) {
    if (!logList) return;
    const item = document.createElement("li");
    const time = new Date().toISOString().slice(11, 23);
    item.textContent = time + "  " + kind + (detail ? "  " + detail : "");
    item.dataset.kind = kind;
    logList.prepend(item);
    while (logList.children.length > 200) logList.lastChild.remove();
  }
  const timing = {};
  /* ---- impersonation drafts, forks and chat settings pushed over the socket ---- */
  let drafting = false;
  function onPushed(data) {
    if (data.event === "draft" || data.event === "draft_complete") {
      const piece = document.getElementById("ws-draft");
      if (!input || !piece) return true;
      if (data.event === "draft") {
        if (!drafting) input.value = "";
        drafting = true;
        input.value += piece.textContent;
      } else {
        drafting = false;
        input.value = piece.textContent;
        input.focus();
      }
      input.dispatchEvent(new Event("input"));
      return true;
    }
    if (data.event === "forked" && data.url) {
      window.location.assign(data.url);
      return true;
    }
    if (data.event === "settings") {
      const choice = document.getElementById("user-persona-choice");
      const select = document.getElementById("user-persona");
      if (choice && select) select.value = choice.dataset.id || "";
      const autoChoice = document.getElementById("auto-read-choice");
      const autoBox = document.getElementById("auto-read");
      if (autoChoice && autoBox) autoBox.checked = autoChoice.dataset.on === "1";
    }
    return false;
  }

  /* ---- a scene's Auto toggle: on asks the members to talk among themselves, off stops ---- */
  const autoToggle = {
    button: () => document.getElementById("auto-toggle"),
    set(on) {
      const button = this.button();
      if (button) button.setAttribute("aria-pressed", String(on));
    },
    // Off again once the scene has rested (no reply is being written a moment later).
    rested() {
      setTimeout(() => {
        if (document.body.dataset.streaming !== "true") this.set(false);
      }, 1500);
    },
  };
  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element && event.target.closest("#auto-toggle");
    if (!button) return;
    if (button.getAttribute("aria-pressed") === "true") {
      autoToggle.set(false);
      document.getElementById("stop-button").click();
    } else {
      autoToggle.set(true);
      htmx.trigger(document.getElementById("auto-form"), "submit");
    }
  });

  function onEvent(data) {
    if (onPushed(data)) return;
    const id = data.messageId;
    if (data.event === "stream") {
      aloud.written(id);
      if (timing[id] && !timing[id].first) {
        timing[id].first = performance.now();
        log("first token", "#" + id + " after " + Math.round(timing[id].first - timing[id].sent) + " ms");
      }
      return;
    }
    if (data.event === "ack") {
      timing[id] = { sent: performance.now() };
      if (awaitingAck) attachments.sent();
      awaitingAck = false;
      if (sentByMe) aloud.mine(id);
      sentByMe = false;
    }
    if (data.event === "complete") {
      aloud.complete(id);
      autoToggle.rested();
    }
    if (data.event === "error") awaitingAck = false;
    if (data.event === "welcome") log("snapshot", "");
    else if (data.event === "error") log("error", data.code);
    else log(data.event, id ? "#" + id : "");
    if (data.event === "complete" && replies) {
      const article = document.getElementById("message-" + id);
      if (!article) return;
      const ttft = Number(article.dataset.ttft || 0);
      const duration = Number(article.dataset.duration || 0);
      const tokens = Number(article.dataset.tokens || 0);
      const rate = duration > ttft && tokens ? (tokens / ((duration - ttft) / 1000)).toFixed(1) : "–";
      const row = document.createElement("tr");
      const lore = article.dataset.lore || "–";
      if (article.dataset.lore) log("lore", "#" + id + "  " + article.dataset.lore);
      for (const text of ["#" + id, article.dataset.backend + " / " + article.dataset.model, ttft ? ttft + " ms" : "–", rate, lore]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      replies.prepend(row);
    }
  }
})();
