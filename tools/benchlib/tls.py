"""A test certificate authority made per benchmark run, and what each peer needs to trust it.

`make_ca(directory)` writes `ca.pem` (a throwaway CA, P-256) and `server.pem` / `server.key` (a leaf it signed for
`127.0.0.1` and `localhost`, as nginx serves it). No tool is told to skip verification: smart-sync gets
`--cacert`, git `http.sslCAInfo`, curl `--cacert`, aria2c `--ca-certificate`.
"""
import os
import subprocess


class Authority:
    """The files of one test CA: `ca` (trust anchor, PEM), `cert` and `key` (the server's leaf)."""

    def __init__(self, directory):
        self.ca = os.path.join(directory, "ca.pem")
        self.cert = os.path.join(directory, "server.pem")
        self.key = os.path.join(directory, "server.key")


def make_ca(directory):
    """Generate a CA and a server certificate for 127.0.0.1 / localhost in `directory`; returns an `Authority`."""
    os.makedirs(directory, exist_ok=True)
    a = Authority(directory)
    ca_key = os.path.join(directory, "ca.key")
    csr = os.path.join(directory, "server.csr")
    ext = os.path.join(directory, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for argv in (
        ["req", "-x509", *ec, "-keyout", ca_key, "-out", a.ca, "-days", "2", "-subj", "/CN=smart-sync bench CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["req", *ec, "-keyout", a.key, "-out", csr, "-subj", "/CN=localhost"],
        ["x509", "-req", "-in", csr, "-CA", a.ca, "-CAkey", ca_key, "-CAcreateserial", "-out", a.cert,
         "-days", "2", "-extfile", ext],
    ):
        subprocess.run(["openssl", *argv], check=True, capture_output=True)
    return a
