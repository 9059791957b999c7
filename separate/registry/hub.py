"""Weights on the Hugging Face Hub: download into the Hugging Face cache, verify, locate, upload.

Downloads go through :func:`huggingface_hub.hf_hub_download`, so the environment users already
know applies:

- ``HF_HOME`` / ``HF_HUB_CACHE``: where the cache is (default ``~/.cache/huggingface/hub``);
- ``HF_ENDPOINT``: which server (default ``https://huggingface.co``; a mirror, or a test server);
- ``HF_HUB_OFFLINE=1``: never touch the network, use cached files only;
- ``HF_HUB_ETAG_TIMEOUT``: seconds to wait for the server's first answer (default 10);
- ``HF_TOKEN``: token for private repositories and for :func:`push_card`.

huggingface_hub reads these once, when it is imported; this module reads them at every call
and passes them on explicitly, so a process that changes them (tests, notebooks) is obeyed too.

Resolution order of one weights file of a card (``[weights]``, see :mod:`separate.registry.card`):

1. the file beside the card (a folder of cards and weights, ``SEPARATE_MODELS``), if present;
2. the Hugging Face cache at the card's pinned ``revision`` (no network);
3. a download (unless offline), then its sha256 is checked against the card: a mismatch
   deletes the downloaded copy and raises :class:`~separate.errors.ModelError`.

The loader checks the sha256 again before every load (``loader.verify_file``).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from separate.errors import ModelError, UsageError
from separate.registry.card import ModelCard, dump_card
from separate.registry.checksum import sha256_file


@dataclass(frozen=True)
class HubSettings:
    """The Hub environment at call time.

    Attributes:
        endpoint: base URL, no trailing slash.
        cache_dir: the hub cache folder (``$HF_HOME/hub`` unless ``HF_HUB_CACHE``).
        offline: ``HF_HUB_OFFLINE`` is set.
        timeout: seconds to wait for the server's first answer (``HF_HUB_ETAG_TIMEOUT``).
    """

    endpoint: str
    cache_dir: Path
    offline: bool
    timeout: float


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def settings() -> HubSettings:
    """Read the Hub environment now (see the module docstring)."""
    from huggingface_hub import constants

    if os.environ.get("HF_HUB_CACHE"):
        cache = Path(os.environ["HF_HUB_CACHE"]).expanduser()
    elif os.environ.get("HF_HOME"):
        cache = Path(os.environ["HF_HOME"]).expanduser() / "hub"
    else:
        cache = Path(constants.HF_HUB_CACHE)
    endpoint = (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
    offline = _truthy(os.environ.get("HF_HUB_OFFLINE")) or (
        "HF_HUB_OFFLINE" not in os.environ and constants.is_offline_mode()
    )
    try:
        timeout = float(os.environ.get("HF_HUB_ETAG_TIMEOUT") or constants.DEFAULT_ETAG_TIMEOUT)
    except ValueError:
        timeout = float(constants.DEFAULT_ETAG_TIMEOUT)
    return HubSettings(endpoint=endpoint, cache_dir=cache, offline=offline, timeout=timeout)


# ----------------------------------------------------------------------------------- locating


@dataclass
class FileStatus:
    """Where one weights file of a card is, without touching the network.

    Attributes:
        name: file name (in the repository, or relative to the card).
        sha256: the sha256 the card pins, or ``None``.
        path: local path, or ``None`` when not available locally.
        where: ``"beside card"``, ``"hf cache"``, ``"embedded"`` or ``"missing"``.
    """

    name: str
    sha256: str | None
    path: Path | None
    where: str


def beside_card(card: ModelCard, name: str) -> Path | None:
    """``name`` in the card's folder, if that file exists."""
    if card.path is None:
        return None
    p = Path(card.path).parent / name
    return p if p.is_file() else None


def cached_path(card: ModelCard, name: str, hub: HubSettings | None = None) -> Path | None:
    """The file in the Hugging Face cache at the card's revision, or ``None`` (no network)."""
    from huggingface_hub import try_to_load_from_cache

    hub = hub or settings()
    if card.weights.hf_repo is None:
        return None
    revision = card.weights.revision or "main"
    found = try_to_load_from_cache(
        card.weights.hf_repo, name, cache_dir=hub.cache_dir, revision=revision
    )
    return Path(found) if isinstance(found, str) and os.path.isfile(found) else None


def file_status(card: ModelCard) -> list[FileStatus]:
    """Every weights file of ``card`` and where it is locally (see :class:`FileStatus`)."""
    hub = settings()
    out = []
    for name, sha in card.weights.file_hashes().items():
        if card.weights.hf_repo is None:
            p = Path(name) if Path(name).is_absolute() else None
            if p is None and card.path is not None:
                p = Path(card.path).parent / name
            where = "embedded" if p is not None and p.is_file() else "missing"
            out.append(FileStatus(name, sha, p if where != "missing" else None, where))
            continue
        local = beside_card(card, name)
        if local is not None:
            out.append(FileStatus(name, sha, local, "beside card"))
            continue
        cached = cached_path(card, name, hub)
        out.append(FileStatus(name, sha, cached, "hf cache" if cached else "missing"))
    return out


def is_cached(card: ModelCard) -> bool:
    """All weights files of ``card`` are available without the network."""
    return all(s.path is not None for s in file_status(card))


# ----------------------------------------------------------------------------------- fetching


def _offline_message(card: ModelCard, name: str, hub: HubSettings) -> str:
    return (
        f"model {card.name!r}: {name} from {card.weights.hf_repo} is not in the Hugging Face cache "
        f"({hub.cache_dir}) and HF_HUB_OFFLINE is set. On a connected machine run `separate models "
        f"pull {card.name}` (with the same HF_HOME, then copy that folder here), or run `separate "
        f"models pull {card.name} --to DIR` there, copy DIR here and set SEPARATE_MODELS=DIR."
    )


def _network_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for mod in ("httpx2", "httpx"):
        try:
            m = __import__(mod)
        except ImportError:
            continue
        errors += [m.TimeoutException, m.NetworkError, m.RemoteProtocolError]
    return tuple(errors)


def _hub_error(card: ModelCard, name: str, exc: BaseException, hub: HubSettings) -> ModelError:
    """Turn a huggingface_hub / HTTP exception into one clear line."""
    from huggingface_hub import errors as hf_errors

    repo, rev = card.weights.hf_repo, card.weights.revision or "main"
    where = f"{repo}@{rev[:12]} on {hub.endpoint}"
    if isinstance(exc, hf_errors.GatedRepoError):
        why = "the repository is gated: accept its terms on the Hub and set HF_TOKEN"
    elif isinstance(exc, hf_errors.RepositoryNotFoundError):
        why = "repository not found (a private repository needs HF_TOKEN)"
    elif isinstance(exc, hf_errors.RevisionNotFoundError):
        why = f"revision {rev} not found"
    elif isinstance(exc, hf_errors.RemoteEntryNotFoundError):
        why = f"no file {name} there (HTTP 404)"
    elif isinstance(exc, hf_errors.HfHubHTTPError):
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        why = f"HTTP {status} from the server"
    elif isinstance(exc, _network_errors()) and "imeout" in type(exc).__name__:
        why = (
            f"no answer within {hub.timeout:g} s (HF_HUB_ETAG_TIMEOUT); check the connection or "
            "HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use cached models only"
        )
    elif isinstance(exc, _network_errors()):
        why = (
            f"cannot reach the server ({type(exc).__name__}: {exc}); check the connection or "
            "HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use cached models only"
        )
    else:
        why = f"{type(exc).__name__}: {exc}"
    return ModelError(f"model {card.name!r}: cannot download {name} from {where}: {why}")


def _probe(card: ModelCard, name: str, hub: HubSettings) -> None:
    """One HEAD request with the short timeout and no retries, so that a server that never
    answers fails in ``timeout`` seconds (``hf_hub_download`` alone retries for minutes)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(
        card.weights.hf_repo, name, revision=card.weights.revision or "main", endpoint=hub.endpoint
    )
    try:
        get_hf_file_metadata(url, timeout=hub.timeout, endpoint=hub.endpoint, retry_on_errors=False)
    except Exception as exc:  # noqa: BLE001 - mapped to ModelError
        raise _hub_error(card, name, exc, hub) from None


def _evict(path: Path) -> None:
    """Remove a downloaded file from the cache (its snapshot link and its blob)."""
    try:
        blob = path.resolve()
        path.unlink(missing_ok=True)
        if blob != path:
            blob.unlink(missing_ok=True)
    except OSError:
        pass


def fetch_file(card: ModelCard, name: str, sha256: str | None, force: bool = False) -> Path:
    """Local path of weights file ``name`` of a Hub card, downloading it if needed.

    Args:
        card: a card with ``weights.hf_repo``.
        name: file name in the repository.
        sha256: the card's pin for it, checked after a download (``None``: not checked).
        force: download again even if cached (``pull --force``).

    Raises:
        ModelError: offline and not cached (the message says how to get it), unreachable or
            silent server (after ``HF_HUB_ETAG_TIMEOUT`` s), 404 / unknown repository or
            revision, or a downloaded file whose sha256 differs from the card (deleted again).
    """
    from huggingface_hub import hf_hub_download

    if not force:
        local = beside_card(card, name)
        if local is not None:
            return local
    hub = settings()
    if not force:
        cached = cached_path(card, name, hub)
        if cached is not None:
            return cached
    if hub.offline:
        raise ModelError(_offline_message(card, name, hub))
    _probe(card, name, hub)
    try:
        got = Path(
            hf_hub_download(
                card.weights.hf_repo,
                name,
                revision=card.weights.revision or "main",
                cache_dir=hub.cache_dir,
                endpoint=hub.endpoint,
                etag_timeout=hub.timeout,
                force_download=force,
            )
        )
    except Exception as exc:  # noqa: BLE001 - mapped to ModelError
        raise _hub_error(card, name, exc, hub) from None
    if sha256:
        digest = sha256_file(got)
        if digest != sha256:
            _evict(got)
            raise ModelError(
                f"model {card.name!r}: downloaded {name} from {card.weights.hf_repo} has sha256 "
                f"{digest[:12]}…, the card pins {sha256[:12]}…; refused and deleted (the server "
                "sent other bytes than the card describes)"
            )
    return got


def fetch_files(card: ModelCard, force: bool = False) -> dict[str, Path]:
    """Every weights file of a Hub card → local path (see :func:`fetch_file`)."""
    return {
        name: fetch_file(card, name, sha, force)
        for name, sha in card.weights.file_hashes().items()
    }


def fetch_weights(card: ModelCard) -> Path:
    """The local path of a single-file Hub card's weights (called by :func:`weights_path`).

    Raises:
        ModelError: as :func:`fetch_file`; or the card lists several files.
    """
    hashes = card.weights.file_hashes()
    if len(hashes) != 1:
        raise ModelError(
            f"model {card.name!r}: {len(hashes)} weights files; this needs exactly one"
        )
    (name, sha), = hashes.items()
    return fetch_file(card, name, sha)


def export_folder(card: ModelCard, folder: str | os.PathLike[str], force: bool = False) -> Path:
    """Copy ``card`` and its weights into ``folder`` (for ``SEPARATE_MODELS`` on an offline
    machine); downloads first if needed. Returns the copied card's path.

    The copied card is the original text: its Hub reference stays, and the loader finds the
    weights beside it first, so no network is needed there.

    Raises:
        ModelError: as :func:`fetch_file`, or the card has no file of its own (made in memory).
    """
    if card.path is None:
        raise ModelError(f"model {card.name!r}: the card exists only in memory")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = weight_files(card, force=force)
    for name, path in files.items():
        # keep the card's relative layout (it names its files relative to itself)
        dest = folder / (Path(name).name if Path(name).is_absolute() else name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.resolve() != path.resolve():
            shutil.copyfile(path, dest)
    dest_card = folder / f"{card.name}.toml"
    if dest_card.resolve() != Path(card.path).resolve():
        shutil.copyfile(card.path, dest_card)
    return dest_card


# ----------------------------------------------------------------------------------- upload


@dataclass
class PushResult:
    """What :func:`push_card` published.

    Attributes:
        repo_id: the repository.
        revision: the commit holding the weights (pinned in ``card_text``).
        card_text: the card as published: ``hf_repo`` + ``revision`` + ``sha256`` per file.
        url: the repository's address.
    """

    repo_id: str
    revision: str
    card_text: str
    url: str


def _hub_card_text(card: ModelCard, repo_id: str, revision: str,
                   hashes: dict[str, str]) -> str:
    """The TOML text of ``card`` pointing at ``repo_id@revision``."""
    import tomllib

    data = tomllib.loads(Path(card.path).read_text(encoding="utf-8")) if card.path else {}
    data["name"] = card.name
    weights = {"hf_repo": repo_id, "revision": revision}
    if len(hashes) == 1:
        (name, sha), = hashes.items()
        weights.update(filename=name, sha256=sha)
    else:
        weights["files"] = dict(hashes)
    data["weights"] = weights
    return dump_card(data, subcommand=card.subcommand)


def push_card(card: ModelCard, repo_id: str, *, token: str | None = None, private: bool = False,
              revision: str = "main") -> PushResult:
    """Upload a card's weights to ``repo_id`` on the Hub and then the card pinned to them.

    Two commits: the weights (and a README with the card's licence and description), then
    ``<name>.toml`` whose ``[weights]`` names ``repo_id``, the weights commit and each file's
    sha256 — a card anyone can drop into ``SEPARATE_MODELS``.

    Args:
        card: a card whose weights are local (``embedded``, beside it, or cached).
        repo_id: ``user/name``; created if missing.
        token: Hugging Face token (default: ``HF_TOKEN`` or ``hf auth login``).
        private: create the repository private.
        revision: branch to commit to.

    Raises:
        UsageError: no token.
        ModelError: the card's weights are missing / fail their sha256, or the Hub refused.
    """
    from huggingface_hub import CommitOperationAdd, HfApi, get_token

    token = token or get_token()
    if not token:
        raise UsageError(
            "pushing needs a Hugging Face token: run `hf auth login` or set HF_TOKEN"
        )
    files = weight_files(card)
    if not files:
        raise ModelError(f"model {card.name!r}: no weights to push")
    hashes = {Path(name).name: sha256_file(path) for name, path in files.items()}
    hub = settings()
    api = HfApi(endpoint=hub.endpoint, token=token)
    try:
        repo_url = api.create_repo(repo_id, private=private, exist_ok=True)
        readme = (
            f"---\nlicense: {card.license.lower() or 'other'}\nlibrary_name: separate\n"
            f"tags: [audio-source-separation, separate]\n---\n\n# {card.name}\n\n"
            f"{card.description}\n\nSources: {', '.join(card.sources)}; {card.sample_rate} Hz.\n\n"
            f"Use it with `separate split -m {card.name}` after putting `{card.name}.toml` from "
            "this repository into a folder listed in `SEPARATE_MODELS`.\n"
        )
        ops = [CommitOperationAdd(path_in_repo=Path(n).name, path_or_fileobj=str(p))
               for n, p in files.items()]
        ops.append(CommitOperationAdd(path_in_repo="README.md",
                                      path_or_fileobj=readme.encode("utf-8")))
        info = api.create_commit(repo_id, ops, commit_message=f"Add {card.name} weights",
                                 revision=revision)
        weights_rev = info.oid
        text = _hub_card_text(card, repo_id, weights_rev, hashes)
        api.create_commit(
            repo_id,
            [CommitOperationAdd(path_in_repo=f"{card.name}.toml",
                                path_or_fileobj=text.encode("utf-8"))],
            commit_message=f"Add {card.name} card pinned to {weights_rev[:12]}",
            revision=revision,
        )
    except (UsageError, ModelError):
        raise
    except Exception as exc:  # noqa: BLE001 - mapped to ModelError
        status = getattr(getattr(exc, "response", None), "status_code", None)
        extra = f" (HTTP {status})" if status else ""
        raise ModelError(f"push to {repo_id} on {hub.endpoint} failed{extra}: {exc}") from None
    return PushResult(repo_id=repo_id, revision=weights_rev, card_text=text, url=str(repo_url))


# ---------------------------------------------------------------- local or Hub weights

def weight_files(card: ModelCard, force: bool = False) -> dict[str, Path]:
    """Every weights file of ``card`` → local path, downloading Hub files if needed.

    Files of a card without ``hf_repo`` are relative to the card's folder. ``force`` downloads
    Hub files again. Nothing is verified here (see :func:`verify_file`).

    Raises:
        ModelError: from :func:`fetch_file` (offline, unreachable, 404, ...).
    """
    if card.weights.hf_repo is not None:
        return fetch_files(card, force=force)
    out: dict[str, Path] = {}
    for name in card.weights.file_hashes():
        p = Path(name)
        if not p.is_absolute() and card.path is not None:
            p = Path(card.path).parent / p
        out[name] = p
    return out
