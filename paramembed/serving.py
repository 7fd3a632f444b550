"""Who may do what when the app is served: everything on localhost, a safe subset on a network.

`make run` binds to 127.0.0.1 and is the "local" mode: one person at their own machine, who may
train and browse the server's folders. `make serve` is the "network" mode for a class sharing one
server: training and server-folder browsing are off unless the environment turns them on, and the
explorer only reads folders under `data_roots`. Settings come from environment variables so that
a deployment states them in one place:

    PARAMEMBED_MODE            local | network                       (default: local)
    PARAMEMBED_ALLOW_TRAINING  1 | 0   the train page may start runs  (default: 1 local, 0 network)
    PARAMEMBED_ALLOW_FOLDERS   1 | 0   folders on the server may be read by path (default: 1 local, 0 network)
    PARAMEMBED_DATA_ROOTS      folders (separated by ':') that may be read (default: assets/ and ../shared/data)
    PARAMEMBED_ADMIN_TOKEN     a secret that unlocks training, folders and stopping anyone's run
    PARAMEMBED_MAX_EPISODES    the most episodes one run started from the page may ask for (default: 20000)
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from paramembed.errors import ParamembedError

ROOT = Path(__file__).resolve().parent.parent
MODES = ("local", "network")


@dataclass(frozen=True)
class Serving:
    mode: str = "local"
    allow_training: bool = True
    allow_server_folders: bool = True
    data_roots: tuple[Path, ...] = ()
    admin_token: str = ""
    max_train_episodes: int = 20_000

    @property
    def on_network(self) -> bool:
        return self.mode == "network"

    def is_admin(self, token: str | None) -> bool:
        """True when `token` matches the configured admin token (never when none is configured)."""
        if not self.admin_token or not token:
            return False
        return hmac.compare_digest(self.admin_token.encode(), token.encode())

    def may_train(self, token: str | None = None) -> bool:
        return self.allow_training or self.is_admin(token)

    def may_read_folders(self, token: str | None = None) -> bool:
        return self.allow_server_folders or self.is_admin(token)

    def shown_path(self, path: str | Path, name: str) -> str:
        """A server folder as a page may show it: the path on this machine, only `name` to network visitors."""
        return name if self.on_network else str(path)


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ParamembedError(f"{name} must be 1 or 0, got {value!r}")


def default_data_roots() -> tuple[Path, ...]:
    return (ROOT / "assets", (ROOT.parent / "shared" / "data"))


def serving_from_env(env: Mapping[str, str] | None = None) -> Serving:
    """The serving settings stated by the environment (see the module docstring)."""
    env = os.environ if env is None else env
    mode = env.get("PARAMEMBED_MODE", "local") or "local"
    if mode not in MODES:
        raise ParamembedError(f"PARAMEMBED_MODE must be one of {', '.join(MODES)}, got {mode!r}")
    network = mode == "network"
    roots_text = env.get("PARAMEMBED_DATA_ROOTS", "")
    roots = tuple(Path(p).expanduser().resolve() for p in roots_text.split(os.pathsep) if p) or default_data_roots()
    episodes_text = env.get("PARAMEMBED_MAX_EPISODES", "20000")
    try:
        max_episodes = int(episodes_text)
    except ValueError:
        raise ParamembedError(f"PARAMEMBED_MAX_EPISODES must be a whole number, got {episodes_text!r}") from None
    if max_episodes < 1:
        raise ParamembedError(f"PARAMEMBED_MAX_EPISODES must be at least 1, got {max_episodes}")
    return Serving(
        mode=mode,
        allow_training=_flag(env, "PARAMEMBED_ALLOW_TRAINING", not network),
        allow_server_folders=_flag(env, "PARAMEMBED_ALLOW_FOLDERS", not network),
        data_roots=tuple(r.resolve() for r in roots),
        admin_token=env.get("PARAMEMBED_ADMIN_TOKEN", ""),
        max_train_episodes=max_episodes,
    )


def confine(path: str | Path, roots: tuple[Path, ...]) -> Path:
    """`path` resolved (links followed), or a ParamembedError when it lies outside every root.

    The message is the same whether or not the path exists, so that it cannot be used to probe
    the server's files.
    """
    text = str(path)
    if "\x00" in text:
        raise ParamembedError("a path cannot contain a null character")
    resolved = Path(text).expanduser().resolve()
    for root in roots:
        if resolved == root or resolved.is_relative_to(root):
            return resolved
    shared = ", ".join(str(r) for r in roots) or "none"
    raise ParamembedError(f"{text!r} is not under the folders this server shares ({shared})")
