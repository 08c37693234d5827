"""A throwaway certificate authority, made with `cryptography`, for TLS on this machine only.

Chapter 13 and the runner's tests need certificates that no one else trusts and that expire soon:
an authority made on the spot, which signs a server's certificate for localhost and 127.0.0.1 (and
clients' certificates, for mutual TLS). Everything is PEM bytes, for grpc.ssl_server_credentials and
grpc.ssl_channel_credentials; where they are written is the caller's choice (a temporary folder).
"""
from __future__ import annotations

import datetime
import ipaddress
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LOOPBACK = ("localhost", "127.0.0.1")


def _pem_of(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _alternative_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


@dataclass(frozen=True)
class Authority:
    """A certificate authority: its key signs, its certificate is what clients and servers trust."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(cls, name: str = "workshop throwaway CA", days: float = 1, hosts: tuple[str, ...] = ()) -> Authority:
        """A new authority. With `hosts`, its certificate also names them: a server can then use the
        authority's own key and certificate, and a client trusts that one certificate (the secure room)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True))
        if hosts:
            builder = builder.add_extension(x509.SubjectAlternativeName([_alternative_name(h) for h in hosts]),
                                            critical=False)
        return cls(key, builder.sign(key, hashes.SHA256()))

    @classmethod
    def from_pem(cls, key_pem: bytes, certificate_pem: bytes) -> Authority:
        """The authority whose key and certificate were saved as `key_pem` and `.pem`."""
        return cls(serialization.load_pem_private_key(key_pem, password=None),
                   x509.load_pem_x509_certificate(certificate_pem))

    @property
    def key_pem(self) -> bytes:
        return _pem_of(self.key)

    @property
    def pem(self) -> bytes:
        """The authority's certificate: what a client (or, for mTLS, a server) trusts."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(self, common_name: str, hosts: tuple[str, ...] = LOOPBACK, *, client: bool = False,
              days: float = 1, valid_from: datetime.datetime | None = None) -> tuple[bytes, bytes]:
        """(key, certificate) as PEM for a server reachable at `hosts`, or with `client` for a client whose
        name is `common_name`. `valid_from` in the past, with a short `days`, makes an expired one."""
        key = ec.generate_private_key(ec.SECP256R1())
        start = valid_from or datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(self.certificate.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if hosts:
            builder = builder.add_extension(x509.SubjectAlternativeName([_alternative_name(h) for h in hosts]),
                                            critical=False)
        certificate = builder.sign(self.key, hashes.SHA256())
        return _pem_of(key), certificate.public_bytes(serialization.Encoding.PEM)


def why_not_connected(details: str) -> str:
    """grpc's reason for a connection it could not make, without the address it names (which changes from
    run to run): 'failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:40033: Tls
    handshake failed (...): certificate has expired: OK' → 'Tls handshake failed (...): certificate has expired'."""
    return re.sub(r"^.*?ipv[46]:\S+:\d+: ", "", details or "").removesuffix(": OK")
