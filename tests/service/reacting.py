"""Run what ``kairos worker`` runs on the changes ``/v1/events`` left in the feed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from service.worker import build_reactions


def react(client: TestClient) -> int:
    """Let the listeners react to every waiting change (with Redis, ingestion only appends them);
    returns how many changes were handled (0 when the app reacts inline)."""
    profiles = client.app_state["components"].profiles
    reactions = build_reactions(profiles, name="test", batch_size=200)
    if reactions is None:
        return 0
    assert client.portal is not None, "use the client inside `with TestClient(...)`"
    handled: int = client.portal.call(reactions.drain)
    return handled
