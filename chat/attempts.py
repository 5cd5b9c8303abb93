"""Every attempt to make the model write counts against the rate limits."""

from __future__ import annotations

from chat.errors import RateLimited
from chat.ownership import Owner
from stormchat.limits import attempt, limit_for


def count_attempt(owner: Owner, address: str | None) -> None:
    """Count one attempt to start a reply; RateLimited past RATE_LIMITS["messages"] (per
    owner) or, for an anonymous owner, past RATE_LIMITS["anon_messages"] (per address).

    Every attempt counts, including ones refused later (busy, too long), so retrying in a
    loop does not get around the limit.
    """
    limit = limit_for("messages")
    decision = attempt(limit, owner.identity)
    if decision.allowed and owner.user_id is None and address is not None:
        limit = limit_for("anon_messages")
        decision = attempt(limit, address)
    if not decision.allowed:
        raise RateLimited(
            f"That is more than {limit.count} messages in {limit.window:g} seconds. "
            f"Try again in {decision.retry_after} s.",
            retry_after=decision.retry_after,
        )


def count_use(scope: str, owner: Owner, address: str | None, what: str) -> None:
    """Count one use of ``scope``'s limit (``uploads``, ``speech``, ``transcriptions``) by
    this owner, or by the address for a visitor with no session yet; RateLimited past it.
    ``what`` names the thing for the message ("uploads")."""
    known = owner.user_id is not None or bool(owner.session_key)
    limit = limit_for(scope)
    decision = attempt(limit, owner.identity if known else f"ip:{address}")
    if not decision.allowed:
        raise RateLimited(
            f"That is more than {limit.count} {what} in {limit.window:g} seconds. "
            f"Try again in {decision.retry_after} s.",
            retry_after=decision.retry_after,
        )
