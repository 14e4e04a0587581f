"""The r||s -> DER ECDSA-Sig-Value encoder, against pyca's encoder and golden bytes."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given
from hypothesis import strategies as st

from hsm.errors import MechanismUnsupported
from hsm.p11_keys import ecdsa_der


@given(
    st.sampled_from([32, 48, 66]).flatmap(
        lambda n: st.tuples(st.just(n), st.binary(min_size=n, max_size=n), st.binary(min_size=n, max_size=n))
    )
)
def test_matches_pyca(sample: tuple[int, bytes, bytes]) -> None:
    _, r, s = sample
    assert ecdsa_der(r + s) == encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))


def test_golden_bytes() -> None:
    r = bytes(31) + b"\x01"
    s = b"\x80" + bytes(31)
    assert ecdsa_der(r + s).hex() == "3026" + "020101" + "022100" + "80" + "00" * 31
    assert ecdsa_der(bytes(64)).hex() == "3006020100020100"


@pytest.mark.parametrize("raw", [b"", b"\x01\x02\x03", bytes(134)])
def test_malformed_token_output_is_refused(raw: bytes) -> None:
    with pytest.raises(MechanismUnsupported):
        ecdsa_der(raw)
