"""Sessions: what the portal signs verifies to the same principal, and nothing else does."""

# Nothing else: a changed byte, another key, another algorithm, audience or issuer, a time that is
# up.

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from subsidy.identity.principal import Principal, Role
from subsidy.identity.sessions import (
    SessionRejected,
    issue_session,
    key_pair_pem,
    load_private_key,
    load_public_key,
    looks_like_session,
    verify_session,
)
from tests.factories import enterprise_id

KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
NOW = 1_800_000_000.0
CID = "cred_0123456789abcdef"

names = st.from_regex(r"^[a-z0-9][a-z0-9._-]{0,63}$", fullmatch=True)
principals = st.one_of(
    st.builds(Principal, names, st.just(Role.ENTERPRISE),
              st.integers(1, 10_000).map(enterprise_id), st.none(), st.just(CID)),
    st.builds(Principal, names, st.sampled_from([Role.REVIEWER, Role.APPROVER]), st.none(),
              st.sampled_from(["市工信局", "市科技局"]), st.just(CID)),
    st.builds(Principal, names, st.sampled_from([Role.AUDITOR, Role.ADMIN]), st.none(),
              st.none(), st.just(CID)),
)  # fmt: skip


def reason(token: str, key: Ed25519PrivateKey = KEY, now: float = NOW + 1) -> str:
    with pytest.raises(SessionRejected) as rejected:
        verify_session(token, key.public_key(), now=now)
    return rejected.value.reason


@settings(max_examples=200, deadline=None)
@given(principals, st.integers(60, 3600))
def test_a_session_verifies_to_its_principal_until_it_expires(p: Principal, ttl: int) -> None:
    token = issue_session(p, KEY, ttl_s=ttl, now=NOW)
    assert looks_like_session(token)
    assert verify_session(token, KEY.public_key(), now=NOW) == p
    assert verify_session(token, KEY.public_key(), now=NOW + ttl - 1) == p
    assert reason(token, now=NOW + ttl) == "expired"
    assert reason(token, OTHER) == "invalid"


@settings(max_examples=300, deadline=None)
@given(principals, st.data())
def test_a_changed_character_is_refused_or_changes_nothing(
    p: Principal, data: st.DataObject
) -> None:
    token = issue_session(p, KEY, now=NOW)
    at = data.draw(st.integers(0, len(token) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    char = data.draw(st.sampled_from(alphabet).filter(lambda c: c != token[at]))
    tampered = token[:at] + char + token[at + 1 :]
    try:
        # base64url's last character carries spare bits: a change there may decode the same.
        same = verify_session(tampered, KEY.public_key(), now=NOW) == p
    except SessionRejected as err:
        same = err.reason == "invalid"
    assert same


def _segment(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def test_forged_headers_and_claims_are_invalid() -> None:
    p = Principal("ent-1", Role.ENTERPRISE, enterprise_id(1), None, "cred_0123456789abcdef")
    good = issue_session(p, KEY, now=NOW)
    claims = jwt.decode(good, options={"verify_signature": False})
    header, body, signature = good.split(".")
    # alg none; an HMAC keyed with the public key's PEM; the claims of another enterprise
    # under the original signature.
    assert reason(f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{body}.") == "invalid"
    public_pem = KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    signed = f"{_segment({'alg': 'HS256', 'typ': 'JWT'})}.{body}"
    mac = hmac.new(public_pem, signed.encode(), hashlib.sha256).digest()
    assert reason(f"{signed}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}") == "invalid"
    other = _segment({**claims, "ent": enterprise_id(2)})
    assert reason(f"{header}.{other}.{signature}") == "invalid"
    for change in ({"aud": "elsewhere"}, {"iss": "someone"}, {"role": "root"},
                   {"ent": None}, {"bureau": "市工信局"}, {"sub": "Bad Name"},
                   {"iat": NOW + 3600}, {"exp": "never"}):  # fmt: skip
        assert reason(jwt.encode({**claims, **change}, KEY, algorithm="EdDSA")) == "invalid"
    for missing in ("cid", "exp", "jti", "aud"):
        rest = {k: v for k, v in claims.items() if k != missing}
        assert reason(jwt.encode(rest, KEY, algorithm="EdDSA")) == "invalid"
    assert reason("x" * 5000) == "invalid"
    assert reason("sbp_" + "a" * 43) == "invalid"


def test_keys_load_from_pem_and_other_text_is_refused() -> None:
    private, public = key_pair_pem()
    key = load_private_key(private)
    assert load_public_key(public) == key.public_key()
    p = Principal("aud-li", Role.AUDITOR, credential_id="cred_0123456789abcdef")
    assert verify_session(issue_session(p, key), load_public_key(public)) == p
    for bad, loader in ((public, load_private_key), (private, load_public_key),
                        ("not a key", load_private_key), ("", load_public_key)):  # fmt: skip
        with pytest.raises(ValueError, match="keygen"):
            loader(bad)
    assert not looks_like_session("sbp_abc-def_ghi")
    assert not looks_like_session("a.b")
    assert looks_like_session("a.b.c")
    assert abs(jwt.decode(issue_session(p, key), options={"verify_signature": False})["iat"]
               - time.time()) < 5  # fmt: skip
