"""A throwaway certificate authority and a server certificate for 127.0.0.1 and localhost.

Examples
--------
>>> import tempfile, pathlib
>>> files = write_certificates(pathlib.Path(tempfile.mkdtemp()))
>>> files.ca_bundle.name, files.ca_bundle.read_text().startswith("-----BEGIN CERTIFICATE-----")
('sandbox-ca.pem', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certificates:
    """Where the server's certificate chain, its key and the CA bundle for clients were written."""

    certfile: Path
    keyfile: Path
    ca_bundle: Path


def write_certificates(directory: Path) -> Certificates:
    """Generate a CA and a server certificate (127.0.0.1, ::1, localhost) into ``directory``."""
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="norce-toolkit sandbox")
    cert = ca.issue_cert("127.0.0.1", "::1", "localhost")
    files = Certificates(
        directory / "sandbox-cert.pem", directory / "sandbox-key.pem", directory / "sandbox-ca.pem"
    )
    files.certfile.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(files.keyfile))
    files.keyfile.chmod(0o600)
    ca.cert_pem.write_to_path(str(files.ca_bundle))
    return files
