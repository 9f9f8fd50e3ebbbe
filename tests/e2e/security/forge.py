"""Tokens an attacker can make: any header, any algorithm, any key, signed by hand.

PyJWT refuses to make most of these (an RSA public key as an HMAC secret, ``alg:
none``), and ``cryptography`` is not a dependency of the shop, so the signatures are
computed here: HMAC from the standard library, RSA (PKCS#1 v1.5, as RS256) from
Python integers.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time

# SHA-256's DigestInfo prefix (RFC 8017, section 9.2, note 1).
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(value):
    return b64(json.dumps(value, separators=(",", ":")).encode())


def claims(user_id, role, ttl=600, **extra):
    now = int(time.time())
    return {"sub": str(user_id), "role": role, "iat": now, "exp": now + ttl, **extra}


def unsigned(payload, alg="none", signature=""):
    return f"{_json({'alg': alg, 'typ': 'JWT'})}.{_json(payload)}.{signature}"


def hs(payload, key, alg="HS256", **header):
    """HMAC-signed with ``key`` (bytes or text, PEM included), whatever it is."""
    key = key.encode() if isinstance(key, str) else key
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = f"{_json({'alg': alg, 'typ': 'JWT', **header})}.{_json(payload)}"
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(signature)}"


def with_payload(token, payload):
    """``token``'s header and signature around another payload (tampering)."""
    header, _payload, signature = token.split(".")
    return f"{header}.{_json(payload)}.{signature}"


# -- RSA, enough to sign RS256 with a key of our own -------------------------------------


def _probable_prime(bits):
    while True:
        candidate = secrets.randbits(bits) | (1 << (bits - 1)) | 1
        if all(candidate % p for p in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)) and _miller_rabin(
            candidate
        ):
            return candidate


def _miller_rabin(n, rounds=24):
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(rounds):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


class RsaKey:
    def __init__(self, bits=2048, e=65537):
        while True:
            p, q = _probable_prime(bits // 2), _probable_prime(bits // 2)
            phi = (p - 1) * (q - 1)
            if p != q and phi % e:
                break
        self.n, self.e, self.d = p * q, e, pow(e, -1, phi)
        self.size = (self.n.bit_length() + 7) // 8

    def sign_sha256(self, message):
        digest_info = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
        padded = b"\x00\x01" + b"\xff" * (self.size - len(digest_info) - 3) + b"\x00" + digest_info
        return pow(int.from_bytes(padded, "big"), self.d, self.n).to_bytes(self.size, "big")

    def jwk(self):
        def number(value):
            return b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))

        return {"kty": "RSA", "e": number(self.e), "n": number(self.n)}

    def public_pem(self):
        """SubjectPublicKeyInfo, PEM: what a server using RS256 would publish."""
        rsa_public_key = _der(0x30, _der_int(self.n) + _der_int(self.e))
        algorithm = _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d010101")) + _der(0x05, b""))
        info = _der(0x30, algorithm + _der(0x03, b"\x00" + rsa_public_key))
        body = base64.encodebytes(info).decode().replace("\n", "")
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return "\n".join(["-----BEGIN PUBLIC KEY-----", *lines, "-----END PUBLIC KEY-----", ""])


def _der(tag, content):
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(encoded)]) + encoded + content


def _der_int(value):
    encoded = value.to_bytes(value.bit_length() // 8 + 1, "big")  # a leading 0 keeps it positive
    return _der(0x02, encoded)


def rs256(payload, key, **header):
    signing_input = f"{_json({'alg': 'RS256', 'typ': 'JWT', **header})}.{_json(payload)}"
    return f"{signing_input}.{b64(key.sign_sha256(signing_input.encode()))}"
