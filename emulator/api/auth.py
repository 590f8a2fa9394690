"""HTTP authentication as the device does it: Basic (RFC 7617) and Digest (RFC 2617 / 7616).

Digest, as real clients need it (the client research's Digest requirements):
- the challenge offers qop="auth" only (aiohttp's client would pick auth-int if offered);
- a nonce may be reused with a strictly increasing nc; a repeated nc is a replay and refused;
- nonces expire; a correct answer to an expired nonce gets a new challenge with stale=true;
- algorithm and qop are accepted quoted or unquoted;
- HA2 is computed from the `uri` of the Authorization header, which must name the requested
  path; clients that leave the query string out of it (py2n-intercom, 2n-doorman) are accepted;
- an answer without qop (RFC 2069) is refused: the challenge offers qop="auth", every client the
  research found answers with it, and without qop there is no nc to stop a captured header being
  replayed for the nonce's lifetime.
A header of any bytes is a failed login (counted towards blocking), never an exception.
Every comparison is constant-time, and a wrong user or password costs the same hashing as a
right one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections import OrderedDict
from urllib.parse import urlsplit

from emulator.device.clock import Clock
from emulator.device.security import Account, Security
from emulator.errors import ApiError, ErrorCode

MAX_NONCES = 4096
_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
_ESCAPE = re.compile(r"\\(.)")
_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("([^"\\]*(?:\\.[^"\\]*)*)"|[^,\s]*)\s*(?:,|$)')
# Constant work for unknown users: hash against a password nobody has.
_NOBODY = Account("", "\x00not a password\x00", frozenset())


class Unauthorized(ApiError):
    """Code 9 (HTTP 401): the reply carries a fresh challenge for the service's method; `reason`
    (for the journal and the log only) says why."""

    def __init__(self, scheme: str, stale: bool = False, reason: str = "no credentials"):
        super().__init__(ErrorCode.AUTH_REQUIRED, reason=reason)
        self.scheme = scheme
        self.stale = stale


class Authenticator:
    def __init__(self, clock: Clock, realm: str, algorithm: str, nonce_lifetime: float, rng_bytes):
        self.clock = clock
        self.realm = realm
        self.algorithm = algorithm
        self.lifetime = nonce_lifetime
        self._random = rng_bytes  # n -> n random bytes
        self.opaque = self._random(16).hex()
        self._nonces: OrderedDict[str, list[float]] = OrderedDict()  # nonce -> [issued, last nc]

    def forget_nonces(self) -> None:
        """Every nonce issued so far is now unknown (a reboot, or the fault "nonces expire")."""
        self._nonces.clear()

    # -- challenges ------------------------------------------------------------------------

    def challenges(self, scheme: str, stale: bool = False) -> list[str]:
        if scheme == "basic":
            return [f'Basic realm="{self.realm}"']
        nonce = self._random(16).hex()
        self._nonces[nonce] = [self.clock.monotonic(), 0]
        while len(self._nonces) > MAX_NONCES:
            self._nonces.popitem(last=False)
        value = (f'Digest realm="{self.realm}", qop="auth", nonce="{nonce}", opaque="{self.opaque}", '
                 f"algorithm={self.algorithm}")
        return [value + (", stale=true" if stale else "")]

    # -- verification ----------------------------------------------------------------------

    def authenticate(self, header: str | None, scheme: str, method: str, path: str, security: Security,
                     address: str) -> Account:
        """The account a request authenticates as, for a service that requires `scheme`.

        Raises 9 (missing or wrong credentials, blocked address) or 8 (the other scheme), with
        the reason in words; the reason never changes the work done or the reply.
        """
        if not header:
            raise Unauthorized(scheme)
        kind, _, rest = header.strip().partition(" ")
        kind = kind.lower()
        if kind not in ("basic", "digest"):
            raise Unauthorized(scheme, reason=f"unknown authentication scheme {kind[:20]!r}")
        if kind != scheme:
            raise ApiError(ErrorCode.INVALID_AUTH_METHOD,
                           reason=f"wrong scheme: {kind.title()} credentials, the service asks for {scheme.title()}")
        if security.is_blocked(address):
            raise Unauthorized(scheme, reason=f"blocked address {address} (too many failed logins)")
        if kind == "basic":
            account = self._basic(rest, security)
        else:
            account = self._digest(rest, method, path, security)
        if isinstance(account, str):
            blocked = security.login_failed(address)
            raise Unauthorized(scheme, reason=account + (f"; {address} is now blocked" if blocked else ""))
        security.login_succeeded(address)
        return account

    # _basic and _digest answer the account, or why not (a str).

    def _basic(self, encoded: str, security: Security) -> Account | str:
        try:
            raw = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):  # ValueError: non-ASCII characters in the header
            return "Basic credentials that are not base64"
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            decoded = raw.decode("latin-1")  # requests and aiohttp.BasicAuth encode with Latin-1
        name, sep, password = decoded.partition(":")
        if not sep:
            return "Basic credentials without a colon between user and password"
        account = security.account(name)
        expected = (account or _NOBODY).password.encode()
        # Compare fixed-length digests: compare_digest leaks the lengths of what it compares, and
        # the length of the expected password (or of _NOBODY's) must not show.
        ok = hmac.compare_digest(hashlib.sha256(password.encode()).digest(), hashlib.sha256(expected).digest())
        return _verdict(account, ok, name)

    def _digest(self, text: str, method: str, path: str, security: Security) -> Account | str:
        fields = parse_params(text)
        username, nonce, uri, answer = fields.get("username"), fields.get("nonce"), fields.get("uri"), \
            fields.get("response")
        if not (username and nonce and uri and answer):
            absent = [k for k, v in (("username", username), ("nonce", nonce), ("uri", uri), ("response", answer))
                      if not v]
            return f"incomplete Digest credentials (no {', '.join(absent)})"
        if fields.get("realm") != self.realm:
            return f"realm mismatch: {_short(fields.get('realm'))}, the device's is {self.realm!r}"
        if _uri_path(uri) != path:
            # the uri must name the requested path; its query may be left out
            return f"uri mismatch: {_short(uri)} does not name the requested path {path}"
        algorithm = fields.get("algorithm", "MD5").upper()
        sess = algorithm.endswith("-SESS")
        if algorithm.removesuffix("-SESS") != self.algorithm:
            # only the algorithm the challenge offered (and its -sess variant)
            return f"algorithm {_short(algorithm)} was not offered (the device offers {self.algorithm})"
        hash_ = _HASHES[self.algorithm]
        qop, nc, cnonce = fields.get("qop"), fields.get("nc", ""), fields.get("cnonce", "")
        if qop != "auth":
            # RFC 2069 (no qop) would have no nc to refuse a replayed header.
            return "Digest without qop=auth (the device offers only auth)" if qop is None \
                else f"qop {_short(qop)} was not offered (the device offers auth)"
        if not (nc and cnonce):
            return "qop=auth without nc and cnonce"

        def h(value: str) -> str:
            # Headers arrive decoded with surrogateescape; hash the bytes the client sent.
            return hash_(value.encode("utf-8", "surrogateescape")).hexdigest()

        account = security.account(username)
        ha1 = h(f"{username}:{self.realm}:{(account or _NOBODY).password}")
        if sess:
            ha1 = h(f"{ha1}:{nonce}:{cnonce}")
        ha2 = h(f"{method}:{uri}")
        expected = h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
        # Headers arrive decoded with surrogateescape: a byte that is not UTF-8 is a wrong answer.
        right = hmac.compare_digest(expected.encode(), answer.lower().encode("utf-8", "surrogateescape"))
        verdict = _verdict(account, right, username)
        if isinstance(verdict, str):
            return verdict
        # The answer is right; now the nonce must be ours, fresh, and the nc must move forward.
        entry = self._nonces.get(nonce)
        if entry is None or self.clock.monotonic() - entry[0] > self.lifetime:
            self._nonces.pop(nonce, None)
            raise Unauthorized("digest", stale=True, reason="stale nonce: " + (
                "not issued by this device, or forgotten (a reboot, or too many nonces)" if entry is None
                else f"older than the nonce lifetime ({self.lifetime:g} s)"))
        try:
            count = int(nc, 16)
        except ValueError:
            return f"nc {_short(nc)} is not hexadecimal"
        if count <= entry[1]:
            return f"replayed nc {_short(nc)} (this nonce was last used with nc {entry[1]:08x})"
        entry[1] = count
        return account


def _verdict(account: Account | None, ok: bool, name: str) -> Account | str:
    """After the comparison (done the same way for an unknown user): the account, or why not."""
    if account is None:
        return f"unknown user {_short(name)}"
    return account if ok else f"wrong password for {_short(name)}"


def _short(value: str | None) -> str:
    """A client's value quoted for a reason, cut short (a reason is one line of a log)."""
    return "none" if value is None else repr(value if len(value) <= 64 else value[:64] + "...")


def parse_params(text: str) -> dict[str, str]:
    """`k=v, k="v"` pairs of an Authorization header; quoted or not, escapes undone."""
    out = {}
    # findall (no Match object per pair) gives "" for the quoted group when the value was not
    # quoted; a quoted value is `quoted` non-empty, or the empty string written as "".
    for key, raw, quoted in _PARAM.findall(text):
        if quoted or raw == '""':
            out[key.lower()] = _ESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted
        else:
            out[key.lower()] = raw
    return out


def _uri_path(uri: str) -> str | None:
    """The path of a Digest `uri`: an origin-form path (what clients send) is cut at its query
    or fragment; anything else goes through urlsplit. None when it is no URI at all."""
    if uri.startswith("/") and not uri.startswith("//"):
        return uri.partition("?")[0].partition("#")[0]
    try:
        return urlsplit(uri).path
    except ValueError:
        return None
