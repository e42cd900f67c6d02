"""providers/outbound.py on its own: which origins the server's configuration makes trusted, and that connecting to the checked address
keeps TLS checking the certificate against the host name."""

import datetime
import socket
import ssl
import threading

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from providers.outbound import DestinationRefusedError, OutboundTransport, Policy, origin



def test_origins_fill_in_default_ports():
    assert origin("https://a.example/x") == origin("https://A.example:443/y") == ("https", "a.example", 443)
    assert origin("ftp://a.example/") is None and origin("https://[::1") is None


def test_a_trusted_origin_is_only_that_scheme_host_and_port():
    policy = Policy(trusted=("http://10.0.0.5:4000/v1",), resolve=lambda *a, **k: [(0, 0, 0, "", ("10.0.0.5", 4000))])
    policy.check_url("http://10.0.0.5:4000/v1/images/generations")
    assert policy.addresses("10.0.0.5", 4000) == ["10.0.0.5"]
    with pytest.raises(DestinationRefusedError, match="plain http"):
        policy.check_url("http://10.0.0.5:4001/v1")
    with pytest.raises(DestinationRefusedError, match="private or local"):
        policy.addresses("10.0.0.5", 22)


def self_signed(name):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


@pytest.fixture
def tls_server(tmp_path):
    """An https server on loopback whose certificate names good.test only."""
    cert, key = self_signed("good.test")
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)

    def serve():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(65536)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            except (ssl.SSLError, OSError):
                pass

    threading.Thread(target=serve, daemon=True).start()
    yield sock.getsockname()[1], tmp_path / "cert.pem"
    sock.close()


def test_tls_is_checked_against_the_host_name_not_the_address_connected_to(tls_server):
    port, cert = tls_server
    loopback = lambda host, port, **kw: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]  # noqa: E731
    policy = Policy(allow_private=True, resolve=loopback)
    context = ssl.create_default_context(cafile=str(cert))
    with httpx.Client(transport=OutboundTransport(policy, ssl_context=context)) as client:
        assert client.get(f"https://good.test:{port}/").text == "ok"
        with pytest.raises(httpx.ConnectError, match="certificate|hostname"):
            client.get(f"https://other.test:{port}/")  # same address, a name the certificate does not hold
