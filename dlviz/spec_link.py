"""The shared-link codec: a dict as compact URL-safe text, and bounded JSON reading.

    text = encode_url_json(spec.to_dict())     # deflated minified JSON in base64url, no padding
    d = decode_url_json(text)                  # SpecError on anything damaged or too large

Every value arriving from a link is untrusted: the text's length is checked
before it is decoded, the inflated size is capped (no zip bombs), and the JSON
nesting depth is checked before the recursive parser runs.
"""

from __future__ import annotations

import base64
import json
import re
import zlib

from dlviz.spec_checks import SpecError

_URL_MAX_BYTES = 64 * 1024             # decompressed; refuse zip bombs in links
# base64 of the largest deflated link (deflate may grow incompressible text a little)
_URL_MAX_CHARS = 2 * _URL_MAX_BYTES
MAX_JSON_DEPTH = 20                    # a spec is 4 levels deep, a bundle's model.json 5


def encode_url_json(d: dict) -> str:
    raw = json.dumps(d, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).rstrip(b"=").decode()


def decode_url_json(text: str) -> dict:
    """Inverse of the URL encoding, refusing anything that inflates past 64 KiB."""
    if not isinstance(text, str):
        raise SpecError("the shared link is damaged (it is not text)")
    if len(text) > _URL_MAX_CHARS:            # before decoding: the text itself costs memory
        raise SpecError("the shared link is too large")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        d = zlib.decompressobj()
        raw = d.decompress(data, _URL_MAX_BYTES)
        if d.unconsumed_tail:
            raise SpecError("the shared link is too large")
        return load_json(raw)
    except SpecError:
        raise
    except Exception:
        raise SpecError("the shared link is damaged (could not decode the network)") from None


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def load_json(text: str | bytes, max_depth: int = MAX_JSON_DEPTH):
    """``json.loads`` that first refuses nesting deeper than ``max_depth``.

    The parser recurses once per level, so ``[[[[...`` in a 64 KiB link would hit
    the recursion limit (or the C stack) before any check on the result could run.
    Raises ``json.JSONDecodeError`` / ``UnicodeDecodeError`` for text that is not JSON.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    depth = deepest = 0
    for m in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):   # brackets outside strings
        depth += 1 if m.group() in "[{" else -1
        deepest = max(deepest, depth)
    if deepest > max_depth:
        raise SpecError(f"the JSON is nested {deepest} levels deep; the limit is {max_depth}")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise SpecError(f"the JSON is nested too deeply; the limit is {max_depth} levels") from None
    except ValueError:           # Python refuses to read integers of over 4,300 digits
        raise SpecError("the JSON holds a number too long to read") from None
