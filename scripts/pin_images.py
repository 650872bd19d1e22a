"""Re-read every default image's digest from its registry and move the pins in reference/images.py.

Run where the registries are reachable (`make pin-images`; `make check-images` = `--check` only
reports, exit 1 on drift, and the weekly image-drift workflow runs it). For each
`name:tag@sha256:...` it asks the registry (anonymous pull token, as `docker pull` does) which
digest the tag serves now, insists that it is a multi-arch index that offers linux/arm64 (the
tasks and hosts are Graviton), and rewrites the pin when it moved. Review the diff like any other
dependency bump: `make test`, a pull request, the preview. `--resolve name:tag` prints the pinned
reference a stack override needs (config/settings.py refuses one without its digest).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reference.images import DEFAULT_IMAGES, parse_image  # noqa: E402

IMAGES_FILE = ROOT / "reference" / "images.py"
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
SINGLE_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
REQUIRED_PLATFORM = ("linux", "arm64")
TIMEOUT_SECONDS = 30


class PinError(Exception):
    pass


@dataclass(frozen=True)
class Location:
    registry: str  # host as written in the reference, e.g. docker.io, ghcr.io
    repository: str
    tag: str


def locate(reference: str) -> Location:
    """Registry, repository and tag of `name:tag[@digest]`, with Docker Hub's implicit parts."""
    image = parse_image(reference)
    return Location(image.registry, image.repository, image.tag)


def api_base(registry: str, overrides: Mapping[str, str]) -> str:
    if registry in overrides:
        return overrides[registry]
    return "https://registry-1.docker.io" if registry == "docker.io" else f"https://{registry}"


def parse_challenge(header: str) -> dict[str, str]:
    """`Bearer realm="...",service="...",scope="..."` -> its parameters."""
    scheme, _, params = header.partition(" ")
    if scheme.lower() != "bearer":
        raise PinError(f"unsupported registry auth challenge: {header!r}")
    return dict(re.findall(r'(\w+)="([^"]*)"', params))


def _get(url: str, headers: Mapping[str, str]) -> tuple[int, Mapping[str, str], bytes]:
    request = urllib.request.Request(url, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def _anonymous_token(challenge: Mapping[str, str], location: Location) -> str:
    query = {"service": challenge.get("service", ""), "scope": challenge.get("scope") or f"repository:{location.repository}:pull"}
    status, _, body = _get(f"{challenge['realm']}?{urllib.parse.urlencode(query)}", {})
    if status != 200:
        raise PinError(f"{location.registry}: no anonymous pull token for {location.repository} (HTTP {status})")
    document = json.loads(body)
    return document.get("token") or document["access_token"]


def current_digest(location: Location, overrides: Mapping[str, str]) -> str:
    """The digest the tag serves now; it must be an index that offers linux/arm64."""
    url = f"{api_base(location.registry, overrides)}/v2/{location.repository}/manifests/{location.tag}"
    headers = {"Accept": ", ".join((*INDEX_TYPES, *SINGLE_TYPES))}
    status, response_headers, body = _get(url, headers)
    if status == 401 and response_headers.get("WWW-Authenticate"):
        token = _anonymous_token(parse_challenge(response_headers["WWW-Authenticate"]), location)
        status, response_headers, body = _get(url, {**headers, "Authorization": f"Bearer {token}"})
    where = f"{location.registry}/{location.repository}:{location.tag}"
    if status != 200:
        raise PinError(f"{where}: HTTP {status}")
    # ECR Public sends no Docker-Content-Digest on GET: the digest is the sha256 of the manifest bytes.
    digest = response_headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(body).hexdigest()
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise PinError(f"{where}: the registry sent no sha256 content digest ({digest!r})")
    manifest = json.loads(body)
    if manifest.get("mediaType") not in INDEX_TYPES:
        raise PinError(f"{where}: a single-platform manifest, not a multi-arch index: nothing to run on Graviton")
    platforms = {(m.get("platform", {}).get("os"), m.get("platform", {}).get("architecture")) for m in manifest.get("manifests", [])}
    if REQUIRED_PLATFORM not in platforms:
        raise PinError(f"{where}: the index offers no linux/arm64 image (platforms: {sorted(p for p in platforms if all(p))})")
    return digest


def repin(text: str, old_digest: str, new_digest: str) -> str:
    if text.count(old_digest) != 1:
        raise PinError(f"{old_digest} is not pinned exactly once in reference/images.py")
    return text.replace(old_digest, new_digest)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report moved pins, change nothing (exit 1 if any moved)")
    parser.add_argument("--resolve", metavar="NAME:TAG", help="print NAME:TAG@sha256:<digest> it serves now, change nothing")
    parser.add_argument("--annotate", action="store_true", help="also write GitHub Actions annotations")
    parser.add_argument("--registry", action="append", default=[], metavar="HOST=URL",
                        help="talk to HOST's registry API at URL (a mirror)")
    parser.add_argument("--file", type=Path, default=IMAGES_FILE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.registry)
    if args.resolve:
        image = parse_image(args.resolve)
        if image is None:
            parser.error(f"--resolve {args.resolve!r}: not an image reference name:tag")
        try:
            print(f"{image.tagged}@{current_digest(locate(args.resolve), overrides)}")
        except (PinError, OSError, ValueError, KeyError) as error:
            print(f"error: {image.tagged}: {error}", file=sys.stderr)
            return 2
        return 0

    text, moved, failed = args.file.read_text(), [], []
    for key, reference in DEFAULT_IMAGES.items():
        pinned = parse_image(reference).digest
        try:
            digest = current_digest(locate(reference), overrides)
        except (PinError, OSError, ValueError, KeyError) as error:
            failed.append(f"{key}: {error}")
            continue
        if digest == pinned:
            print(f"{key}: {reference} is current")
        else:
            message = f"{key}: {parse_image(reference).tagged} moved {pinned} -> {digest}"
            print(message)
            if args.annotate:
                print(f"::warning file=reference/images.py,title=Image drift::{message}: review the new build, "
                      "then `make pin-images` in a pull request (or keep the pin)")
            moved.append(key)
            text = repin(text, pinned, digest)
    for line in failed:
        print(f"error: {line}", file=sys.stderr)
        if args.annotate:
            print(f"::error file=reference/images.py,title=Image check failed::{line}")
    if failed:
        return 2
    if moved and not args.check:
        args.file.write_text(text)
        print(f"rewrote {args.file.relative_to(ROOT) if args.file.is_relative_to(ROOT) else args.file}: review, `make test`, pull request")
    return 1 if moved and args.check else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
