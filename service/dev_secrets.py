"""Development keys and secrets, generated once and kept in ``var/secrets.json``.

``kairos serve`` in development fills every secret the environment (or ``.env``) leaves unset
from that file, generating the missing ones on the first start, so the keys a developer pasted
into a page or a bot still open it after a restart. The file is readable by its owner only
(0600, in a 0700 directory). Production never generates: it refuses to start without its keys
(:class:`service.settings.Settings`).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from service.settings import Settings

SECRETS_FILE = "secrets.json"

GENERATORS: dict[str, Callable[[], str]] = {
    "site_key": lambda: "site-" + secrets.token_urlsafe(18),
    "server_key": lambda: "server-" + secrets.token_urlsafe(24),
    "admin_key": lambda: "admin-" + secrets.token_urlsafe(24),
    "identity_secret": lambda: secrets.token_urlsafe(32),
    "session_secret": lambda: secrets.token_urlsafe(32),
    "link_secret": lambda: secrets.token_urlsafe(32),
}
"""Settings field -> how a development value is made. A new secret is one line here."""


class SecretsFileError(RuntimeError):
    """``var/secrets.json`` cannot be read as Kairos wrote it; it is left as it is."""


@dataclass(frozen=True)
class DevSecrets:
    """What :func:`fill_from_var` did."""

    path: Path
    from_file: tuple[str, ...]
    generated: tuple[str, ...]


def fill_from_var(settings: Settings, var_dir: Path,
                  environ: MutableMapping[str, str] = os.environ) -> DevSecrets | None:  # fmt: skip
    """Set ``KAIROS_<NAME>`` in ``environ`` for every secret of :data:`GENERATORS` that
    ``settings`` leave unset: from ``var_dir/secrets.json``, else a new value written there.

    Returns ``None`` in production (nothing is generated) or when every secret is configured.
    Raises :class:`SecretsFileError` for a file that is not a JSON object of strings.
    """
    if settings.environment == "production":
        return None
    missing = [name for name in GENERATORS if getattr(settings, name, None) is None]
    if not missing:
        return None
    path = var_dir / SECRETS_FILE
    kept = _read(path)
    generated = [name for name in missing if name not in kept]
    if generated:
        _write(path, {**kept, **{name: GENERATORS[name]() for name in generated}})
        kept = _read(path)
    elif path.stat().st_mode & 0o077:
        path.chmod(0o600)  # copied in with a looser mode: tighten, the content is kept
    for name in missing:
        environ[f"KAIROS_{name.upper()}"] = kept[name]
    return DevSecrets(path, tuple(n for n in missing if n not in generated), tuple(generated))


def _read(path: Path) -> dict[str, str]:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SecretsFileError(f"{path} is not valid JSON ({exc}); fix it, or delete it to "
                               "generate new development keys") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise SecretsFileError(f"{path} must be a JSON object of strings; fix it, or delete it "
                               "to generate new development keys")
    return data


def _write(path: Path, data: dict[str, str]) -> None:
    """Write ``data`` readable by the owner only, atomically (a crash leaves the old file)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(data, file, indent=2, sort_keys=True)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    os.chmod(partial, 0o600)
    os.replace(partial, path)
