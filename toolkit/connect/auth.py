"""OAuth2 client credentials as an ``httpx.Auth`` flow: the token request goes through the client.

The flow yields the token request (when no fresh token is at hand) and then the real request, so the
token call uses the same transport as every other call: mocked in tests, rate limited, retried,
logged. A token is renewed shortly before ``expires_in`` runs out, and once when a call answers 401.
Tokens are kept per process (keyed by endpoint, client id, scope and secret), so every
client of a profile shares one token. The secret is revealed only where the form body is built.

Examples
--------
>>> import httpx
>>> from toolkit.config import Secret
>>> def server(request):
...     if request.url.path.endswith("/token"):
...         return httpx.Response(200, json={"access_token": "t0k", "expires_in": 3600})
...     return httpx.Response(200, json=request.headers["Authorization"] == "Bearer t0k")
>>> auth = ClientCredentials("https://x.test/identity/1.0/connect/token", "me", Secret("s"),
...                          "stage", cache={})
>>> httpx.Client(transport=httpx.MockTransport(server), auth=auth).get("https://x.test/a").json()
True
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass

import httpx

from toolkit.config import Secret
from toolkit.connect.budget import Clock
from toolkit.errors import AuthError, ConnectAPIError, RateLimited

__all__ = ["ClientCredentials", "forget_tokens"]

logger = logging.getLogger("toolkit.connect")


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float
    renew_at: float


_Key = tuple[str, str, str, Secret]
_TOKENS: dict[_Key, _Token] = {}
_TOKENS_LOCK = threading.Lock()
_FETCHING: dict[_Key, threading.Lock] = {}  # one per credentials: one token request at a time


def forget_tokens() -> None:
    """Drop every token this process holds (the next call of each client fetches a new one)."""
    with _TOKENS_LOCK:
        _TOKENS.clear()


class ClientCredentials(httpx.Auth):
    """OAuth2 client credentials against Norce's identity endpoint.

    Parameters
    ----------
    token_url
        The absolute token endpoint, e.g. ``https://{slug}.api-se.norce.tech/identity/1.0/connect/token``.
    client_id, secret, scope
        The credentials; ``secret`` stays a ``Secret`` until the form body is built.
    clock
        Seconds, for expiry.
    cache
        Where tokens are kept; the process-wide cache when None.
    """

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        secret: Secret,
        scope: str,
        *,
        clock: Clock | None = None,
        cache: dict[_Key, _Token] | None = None,
    ) -> None:
        self.token_url, self.client_id, self.scope = token_url, client_id, scope
        self._secret = secret
        self._clock = clock or time.time
        self._cache = _TOKENS if cache is None else cache
        self._key: _Key = (token_url, client_id, scope, secret)  # Secret hashes without showing
        self.renewals = 0

    def __repr__(self) -> str:
        return f"ClientCredentials({self.token_url!r}, client_id={self.client_id!r})"

    @property
    def token(self) -> str | None:
        """The current access token, if any (for redacting it from text; never log it)."""
        held = self._cache.get(self._key)
        return held.value if held else None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        held = self._fresh()
        if held is None:
            # Threads needing a token wait for the one fetching it (the token endpoint allows 3 a
            # minute); httpx closes the flow on error, which releases the lock.
            with self._fetching():
                held = self._fresh()
                if held is None:
                    held = self._store((yield self.token_request()), self._clock())
        request.headers["Authorization"] = f"Bearer {held.value}"
        response = yield request
        if response.status_code != 401:
            return
        logger.info("%s %s answered 401: renewing the token once", request.method, request.url.path)
        fresh = self._cache.get(self._key)
        if fresh is None or fresh.value == held.value:  # nobody renewed it meanwhile
            fresh = self._store((yield self.token_request()), self._clock())
        request.headers["Authorization"] = f"Bearer {fresh.value}"
        yield request

    def _fresh(self) -> _Token | None:
        held = self._cache.get(self._key)
        return held if held is not None and self._clock() < held.renew_at else None

    def _fetching(self) -> threading.Lock:
        with _TOKENS_LOCK:
            return _FETCHING.setdefault(self._key, threading.Lock())

    def token_request(self) -> httpx.Request:
        """The form-encoded client-credentials request (the only place the secret is revealed)."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._secret.reveal(),
            "scope": self.scope,
        }
        return httpx.Request("POST", self.token_url, data=form, headers={"Accept": "application/json"})

    def _store(self, response: httpx.Response, asked_at: float) -> _Token:
        self.renewals += 1
        if response.status_code != 200:
            raise _token_error(response, self.token_url)
        try:
            body = response.json()
            value, ttl = str(body["access_token"]), float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            msg = f"token endpoint {self.token_url} answered 200 without access_token and expires_in"
            raise AuthError(msg, status=200, endpoint=self.token_url) from None
        # renew before the end: 10 % of the lifetime, at most a minute (2 s tokens renew at 1.8 s)
        token = _Token(value, asked_at + ttl, asked_at + ttl - min(60.0, 0.1 * ttl))
        with _TOKENS_LOCK:
            self._cache[self._key] = token
        logger.info("token for client %r renewed, valid %.0f s", self.client_id, ttl)
        return token


def _token_error(response: httpx.Response, url: str) -> ConnectAPIError:
    try:
        body = response.json()
        said = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
    except ValueError:
        said = None
    said = str(said or response.text[:200] or response.reason_phrase)
    if response.status_code == 429:
        msg = f"token endpoint {url} answered 429 (3 requests a minute, burst 20) after every retry"
        return RateLimited(msg, status=429, endpoint=url, server_message=said)
    if response.is_redirect:
        where = response.headers.get("Location", "another address")
        msg = (
            f"token endpoint {url} answered {response.status_code}, a redirect to {where}; the client "
            "credentials are never sent on to another address: set the profile's token_url (or "
            "base_url) to the final address"
        )
        return AuthError(msg, status=response.status_code, endpoint=url, server_message=said)
    msg = f"token endpoint {url} refused the client credentials: {response.status_code} {said}"
    return AuthError(msg, status=response.status_code, endpoint=url, server_message=said)
