"""A software WebAuthn authenticator for attack tests: ES256 keys from `cryptography`, the
authenticator data, client data and attestation built with python-fido2's own types.

It answers the JSON options the server gives the browser and returns what our script posts
(WebAuthn response JSON, plus the PRF output beside it). Every field an attacker controls can be
overridden per call: origin, RP ID, flags, counter, challenge, credential id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)

FLAGS = AuthenticatorData.FLAG


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    def __init__(self, *, rp_id: str = "testserver", origin: str = "http://testserver", prf=True):
        self.rp_id = rp_id
        self.origin = origin
        self.prf = prf
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.prf_secret = os.urandom(32)  # CTAP2 hmac-secret's CredRandom
        self.counter = 0
        self.user_handle: bytes | None = None

    def _prf(self, extensions: dict | None) -> str | None:
        first = (((extensions or {}).get("prf") or {}).get("eval") or {}).get("first")
        if not self.prf or first is None:
            return None
        # WebAuthn PRF: salt = SHA-256("WebAuthn PRF" ‖ 0x00 ‖ input), then hmac-secret.
        salt = hashlib.sha256(b"WebAuthn PRF\x00" + unb64(first)).digest()
        return b64(hmac.new(self.prf_secret, salt, hashlib.sha256).digest())

    def create(self, options: dict, *, flags=FLAGS.UP | FLAGS.UV | FLAGS.AT) -> dict:
        self.user_handle = unb64(options["user"]["id"])
        client_data = CollectedClientData.create(
            "webauthn.create", unb64(options["challenge"]), self.origin
        )
        credential = AttestedCredentialData.create(
            b"\0" * 16, self.credential_id, ES256.from_cryptography_key(self.key.public_key())
        )
        auth_data = AuthenticatorData.create(
            hashlib.sha256(self.rp_id.encode()).digest(), flags, self.counter, credential
        )
        attestation = AttestationObject.create("none", auth_data, {})
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": b64(client_data), "attestationObject": b64(attestation)},
            "clientExtensionResults": {},
        }

    def get(
        self,
        options: dict,
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        flags=FLAGS.UP | FLAGS.UV,
        counter: int | None = None,
        challenge: bytes | None = None,
        user_handle: bytes | None = None,
        prf: str | None = None,
    ) -> dict:
        if counter is None:
            self.counter += 1
            counter = self.counter
        client_data = CollectedClientData.create(
            "webauthn.get",
            challenge if challenge is not None else unb64(options["challenge"]),
            origin or self.origin,
        )
        auth_data = AuthenticatorData.create(
            hashlib.sha256((rp_id or self.rp_id).encode()).digest(), flags, counter
        )
        signature = self.key.sign(
            bytes(auth_data) + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        handle = user_handle or self.user_handle
        response = {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data),
                "authenticatorData": b64(auth_data),
                "signature": b64(signature),
                **({"userHandle": b64(handle)} if handle else {}),
            },
            "clientExtensionResults": {},
        }
        prf_output = prf or self._prf(options.get("extensions"))
        if prf_output:
            response["prf"] = prf_output
        return response
