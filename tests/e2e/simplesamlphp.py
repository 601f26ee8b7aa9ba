"""SimpleSAMLphp (Debian's package) as a real, independent SAML identity provider for tests.

Everything lives in a private directory (config, metadata, key and certificate, sessions,
logs); the package's files are only read. The IdP is served by PHP's built-in web server
on ``127.0.0.1`` while telling browsers it lives at ``http://<host>:<port>/`` (default
host ``idp.localhost``, which the browser maps to 127.0.0.1 with ``--host-resolver-rules``),
so that the POST back to the service provider on another host name is cross-site, as
Okta's is. Setup follows ``reference/saml.md`` §4.3 (SimpleSAMLphp 1.19):

- ``config.php``: absolute ``baseurlpath``, every directory under the private root, the
  SAML 2.0 IdP and the ``exampleauth`` module enabled, and the session cookie
  ``SameSite=Lax`` without ``Secure`` (the default ``None`` without ``Secure`` is dropped
  by Chromium, and SimpleSAMLphp then loops on ``no_cookie.php``);
- ``authsources.php``: ``exampleauth:UserPass`` with the test users;
- ``saml20-idp-hosted.php``: the IdP, signing responses and assertions with RSA-SHA256,
  the NameID being the user's email (``emailAddress`` format, as Okta is set up);
- ``saml20-sp-remote.php``: the service providers, written by :meth:`add_sp` whenever
  one is registered (SimpleSAMLphp reads its metadata files on every request).

Install the programs with ``.ci/install-e2e.sh``; :func:`unavailable` says what is
missing. Use as a context manager::

    with SimpleSAMLphp(tmp_path / "idp", [IdpUser("ada", "secret", "ada@example.com")]) as idp:
        idp.add_sp(entity_id, acs_url)
        ...  # idp.metadata_url, idp.idp_initiated_url(entity_id)
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
import typing as t
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from tests.sample_server import stop_process_group

#: The web root of Debian's ``simplesamlphp`` package.
WEB_ROOT = Path("/usr/share/simplesamlphp/www")
#: An entity ID in Okta's shape (Okta's are ``http://www.okta.com/<app id>``).
DEFAULT_ENTITY_ID = "http://www.okta.com/exkSIMPLESAMLPHP"
EMAIL_NAMEID = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
UNSPECIFIED_NAME_FORMAT = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
#: Seconds for ``openssl`` and for the server to start answering.
COMMAND_TIMEOUT = 30
START_TIMEOUT = 20


@dataclass(frozen=True)
class IdpUser:
    """A person the IdP knows: ``username``/``password`` for its login form."""

    username: str
    password: str
    email: str
    first_name: str = "Test"
    last_name: str = "User"

    def attributes(self) -> dict[str, list[str]]:
        return {
            "uid": [self.username],
            "email": [self.email],
            "firstName": [self.first_name],
            "lastName": [self.last_name],
        }


@dataclass(frozen=True)
class ServiceProvider:
    entity_id: str
    acs_url: str
    #: More ``saml20-sp-remote`` settings: certificates, SingleLogoutService, options.
    options: Mapping[str, t.Any] = field(default_factory=dict)


def unavailable() -> str | None:
    """Why SimpleSAMLphp cannot run on this machine, or ``None`` when it can."""
    hint = "; install it with .ci/install-e2e.sh"
    php = shutil.which("php")
    if php is None:
        return "php is not installed (Debian package php-cli)" + hint
    if not (WEB_ROOT / "saml2" / "idp" / "SSOService.php").is_file():
        return f"SimpleSAMLphp is not installed ({WEB_ROOT} is missing)" + hint
    if shutil.which("openssl") is None:
        return "openssl is not installed" + hint
    try:
        done = subprocess.run(
            [php, "-r", 'exit(extension_loaded("dom") && extension_loaded("openssl") ? 0 : 1);'],
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"php does not run: {e}"
    if done.returncode != 0:
        return "PHP lacks the dom or openssl extension (Debian package php-xml)" + hint
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return t.cast(int, s.getsockname()[1])


def php_literal(value: t.Any, indent: str = "") -> str:
    """``value`` (str, bool, int, None, list, dict) as a PHP literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    inner = indent + "    "
    if isinstance(value, Mapping):
        items = [f"{inner}{php_literal(k)} => {php_literal(v, inner)}," for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [f"{inner}{php_literal(v, inner)}," for v in value]
    else:
        raise TypeError(f"no PHP literal for {value!r}")
    if not items:
        return "[]"
    return "[\n" + "\n".join(items) + "\n" + indent + "]"


def sp_from_metadata(xml: bytes | str) -> ServiceProvider:
    """The entity ID and HTTP-POST Assertion Consumer Service of SP metadata.

    Only for metadata the test itself fetched from the app under test.
    """
    root = ET.fromstring(xml)  # our own app's metadata: trusted
    descriptor = (
        root if root.tag == f"{MD}EntityDescriptor" else root.find(f".//{MD}EntityDescriptor")
    )
    if descriptor is None:
        raise ValueError("no EntityDescriptor in the SP metadata")
    for acs in descriptor.iter(f"{MD}AssertionConsumerService"):
        if acs.get("Binding") == HTTP_POST:
            return ServiceProvider(descriptor.attrib["entityID"], acs.attrib["Location"])
    raise ValueError("no HTTP-POST AssertionConsumerService in the SP metadata")


class _PortTaken(RuntimeError):
    """The server could not listen: another program took the port."""


class SimpleSAMLphp:
    """A private SimpleSAMLphp IdP under ``root``, served on ``127.0.0.1:<port>``."""

    def __init__(
        self,
        root: Path,
        users: Iterable[IdpUser],
        *,
        host: str = "idp.localhost",
        port: int | None = None,
        entity_id: str = DEFAULT_ENTITY_ID,
    ) -> None:
        self.root = Path(root)
        self.users = list(users)
        self.host = host
        self._port_chosen = port is None
        self.port = port or free_port()
        self._log_start = 0
        self.entity_id = entity_id
        self.service_providers: dict[str, ServiceProvider] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self.config_dir = self.root / "config"
        self.metadata_dir = self.root / "metadata"
        self.cert_dir = self.root / "certs"
        self.log_dir = self.root / "log"
        self.server_log = self.log_dir / "php-server.log"

    # -- URLs ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Where browsers reach the IdP (``http://idp.localhost:<port>/``)."""
        return f"http://{self.host}:{self.port}/"

    @property
    def local_url(self) -> str:
        """The same server by address, for clients that cannot resolve :attr:`host`."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def metadata_url(self) -> str:
        return self.base_url + "saml2/idp/metadata.php"

    @property
    def local_metadata_url(self) -> str:
        return self.local_url + "saml2/idp/metadata.php"

    @property
    def sso_url(self) -> str:
        return self.base_url + "saml2/idp/SSOService.php"

    def idp_initiated_url(self, sp_entity_id: str, relay_state: str | None = None) -> str:
        """The unsolicited-response URL of SimpleSAMLphp 1.19 (like an Okta dashboard tile)."""
        query = {"spentityid": sp_entity_id}
        if relay_state is not None:
            query["RelayState"] = relay_state
        return self.sso_url + "?" + urllib.parse.urlencode(query)

    def metadata_url_for_this_machine(self) -> str:
        """:attr:`metadata_url` if this machine resolves :attr:`host` to loopback, else by address.

        Browsers map the host name themselves; programs on this machine (the app's
        ``sso configure``) use the system resolver, which may not know ``*.localhost``.
        """
        try:
            infos = socket.getaddrinfo(self.host, self.port, proto=socket.IPPROTO_TCP)
        except OSError:
            return self.local_metadata_url
        if infos and all(info[4][0] in ("127.0.0.1", "::1") for info in infos):
            return self.metadata_url
        return self.local_metadata_url

    @property
    def certificate_pem(self) -> str:
        return (self.cert_dir / "idp.crt").read_text()

    # -- configuration ------------------------------------------------------------------------

    def setup(self) -> None:
        """Write the configuration, the key and the certificate (once)."""
        for d in (
            self.config_dir,
            self.metadata_dir,
            self.cert_dir,
            self.log_dir,
            self.root / "data",
            self.root / "tmp",
            self.root / "sessions",
        ):
            d.mkdir(parents=True, exist_ok=True)
        if not (self.cert_dir / "idp.crt").exists():
            self._make_key()
        self._write_config()
        self._write_php(
            self.config_dir / "authsources.php",
            "config",
            {
                "admin": ["core:AdminPassword"],
                "example-userpass": {
                    0: "exampleauth:UserPass",
                    **{f"{u.username}:{u.password}": u.attributes() for u in self.users},
                },
            },
        )
        self._write_php(
            self.metadata_dir / "saml20-idp-hosted.php",
            "metadata",
            {
                self.entity_id: {
                    "host": "__DEFAULT__",
                    "privatekey": "idp.key",
                    "certificate": "idp.crt",
                    "auth": "example-userpass",
                    "NameIDFormat": EMAIL_NAMEID,
                    "simplesaml.nameidattribute": "email",
                    "saml20.sign.response": True,
                    "saml20.sign.assertion": True,
                    "signature.algorithm": RSA_SHA256,
                    "attributes.NameFormat": UNSPECIFIED_NAME_FORMAT,
                }
            },
        )
        self._write_sp_remote()

    def _make_key(self) -> None:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-sha256",
                "-days",
                "3650",
                "-subj",
                "/CN=SimpleSAMLphp test IdP",
                "-keyout",
                str(self.cert_dir / "idp.key"),
                "-out",
                str(self.cert_dir / "idp.crt"),
            ],
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
            check=True,
        )

    def _write_config(self) -> None:
        def directory(path: Path) -> str:
            return str(path) + "/"

        self._write_php(
            self.config_dir / "config.php",
            "config",
            {
                "baseurlpath": self.base_url,
                "certdir": directory(self.cert_dir),
                "loggingdir": directory(self.log_dir),
                "datadir": directory(self.root / "data"),
                "tempdir": directory(self.root / "tmp"),
                "metadatadir": directory(self.metadata_dir),
                "metadata.sources": [{"type": "flatfile", "directory": str(self.metadata_dir)}],
                "secretsalt": secrets.token_hex(16),
                "auth.adminpassword": secrets.token_hex(16),
                "admin.protectindexpage": False,
                "admin.protectmetadata": False,
                "admin.checkforupdates": False,
                "technicalcontact_name": "Tests",
                "technicalcontact_email": "na@example.org",
                "timezone": "UTC",
                "trusted.url.domains": [self.host],
                "enable.saml20-idp": True,
                "enable.shib13-idp": False,
                "enable.adfs-idp": False,
                "module.enable": {"exampleauth": True, "core": True, "saml": True},
                "debug": {"saml": False, "backtraces": True, "validatexml": False},
                "showerrors": True,
                "errorreporting": False,
                "logging.level": 7,  # SimpleSAML\Logger::DEBUG
                "logging.handler": "file",
                "logging.logfile": "simplesamlphp.log",
                "logging.processname": "simplesamlphp",
                "store.type": "phpsession",
                "session.cookie.secure": False,
                "session.cookie.samesite": "Lax",
                "session.phpsession.savepath": str(self.root / "sessions"),
                "session.phpsession.httponly": True,
                "language.cookie.secure": False,
                "language.cookie.samesite": "Lax",
                "language.default": "en",
                "theme.use": "default",
                "production": False,
            },
        )

    def add_sp(
        self, entity_id: str, acs_url: str, options: Mapping[str, t.Any] | None = None
    ) -> ServiceProvider:
        """Register (or replace) a service provider in ``saml20-sp-remote.php``; at once.

        ``options`` are more settings of its entry (``keys``, ``validate.authnrequest``...).
        """
        sp = ServiceProvider(entity_id, acs_url, dict(options or {}))
        self.service_providers[entity_id] = sp
        self._write_sp_remote()
        return sp

    def add_sp_from_metadata(self, xml: bytes | str) -> ServiceProvider:
        sp = sp_from_metadata(xml)
        return self.add_sp(sp.entity_id, sp.acs_url)

    def _write_sp_remote(self) -> None:
        self._write_php(
            self.metadata_dir / "saml20-sp-remote.php",
            "metadata",
            {
                sp.entity_id: {
                    "AssertionConsumerService": [{"Binding": HTTP_POST, "Location": sp.acs_url}],
                    "NameIDFormat": EMAIL_NAMEID,
                    "simplesaml.nameidattribute": "email",
                    "simplesaml.attributes": True,
                    **sp.options,
                }
                for sp in self.service_providers.values()
            },
        )

    @staticmethod
    def _write_php(path: Path, variable: str, value: Mapping[t.Any, t.Any]) -> None:
        if variable == "metadata":
            body = "".join(
                f"$metadata[{php_literal(k)}] = {php_literal(v)};\n" for k, v in value.items()
            )
        else:
            body = f"${variable} = {php_literal(value)};\n"
        # Written whole and renamed: the server may read it at any moment.
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("<?php\n// Written by tests/e2e/simplesamlphp.py\n" + body)
        os.replace(tmp, path)

    # -- server -------------------------------------------------------------------------------

    def start(self) -> None:
        """Serve the IdP and wait (bounded) until its metadata answers.

        A port chosen here that another program takes first is replaced (twice at most).
        """
        if self.process is not None:
            return
        for attempt in range(3):
            self.setup()
            try:
                self._spawn()
                self._wait_until_ready()
                return
            except _PortTaken:
                self.stop()
                if not self._port_chosen or attempt == 2:
                    raise
                self.port = free_port()
            except BaseException:
                self.stop()
                raise

    def _spawn(self) -> None:
        php = shutil.which("php")
        if php is None:
            raise RuntimeError("php is not installed")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PHP_")}
        env["SIMPLESAMLPHP_CONFIG_DIR"] = str(self.config_dir)
        self._log_start = self.server_log.stat().st_size if self.server_log.exists() else 0
        with open(self.server_log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    php,
                    "-d",
                    "display_errors=stderr",
                    "-d",
                    "log_errors=0",
                    "-d",
                    "date.timezone=UTC",
                    # Metadata files are rewritten while it runs: OPcache would go on serving
                    # the copy it compiled before (it re-reads file times every few seconds).
                    "-d",
                    "opcache.enable=0",
                    "-d",
                    f"session.save_path={self.root / 'sessions'}",
                    "-S",
                    f"127.0.0.1:{self.port}",
                    "-t",
                    str(WEB_ROOT),
                ],
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as a whole
            )

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        last: object = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                with open(self.server_log, "rb") as f:
                    f.seek(self._log_start)
                    output = f.read().decode(errors="replace")
                if "Address already in use" in output:
                    raise _PortTaken(output)
                raise RuntimeError(
                    f"SimpleSAMLphp's server exited with {self.process.returncode}:\n" + self.logs()
                )
            try:
                with urllib.request.urlopen(self.local_metadata_url, timeout=2) as response:
                    if response.status == 200 and b"IDPSSODescriptor" in response.read():
                        return
                    last = response.status
            except (OSError, urllib.error.URLError) as e:
                last = e
            time.sleep(0.1)
        raise RuntimeError(
            f"SimpleSAMLphp did not answer within {START_TIMEOUT}s ({last}):\n" + self.logs()
        )

    def stop(self) -> None:
        """Stop the server (its process group): SIGTERM, then SIGKILL if it lingers."""
        process, self.process = self.process, None
        stop_process_group(process)

    def fetch(self, path: str, timeout: float = 10) -> tuple[int, bytes]:
        """GET ``path`` from the server by address: ``(status, body)``."""
        try:
            with urllib.request.urlopen(self.local_url + path.lstrip("/"), timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.read()

    def logs(self, limit: int = 6000) -> str:
        """The end of SimpleSAMLphp's log and of the PHP server's output, for failure messages."""
        parts = []
        for path in (self.log_dir / "simplesamlphp.log", self.server_log):
            if path.exists():
                text = path.read_text(errors="replace")
                # The PHP server notes every connection and asset; the rest is of interest.
                lines = [
                    line
                    for line in text.splitlines()
                    if not line.endswith((" Accepted", " Closing"))
                    and "GET /resources/" not in line
                ]
                text = "\n".join(lines)
                parts.append(f"--- {path.name} (last {limit} characters)\n{text[-limit:]}")
        return "\n".join(parts) or "(no logs)"

    def __enter__(self) -> SimpleSAMLphp:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def serving(directory: Path, users: Iterable[IdpUser]) -> Iterator[SimpleSAMLphp]:
    """A running SimpleSAMLphp in ``directory`` with ``users``; absent, the test skips or fails.

    Fails rather than skips when the suite requires its services
    (``OKTA_SCIM_REQUIRE_SERVICES``, as in CI): see ``tests.conftest.service_missing``.
    """
    from tests.conftest import service_missing

    reason = unavailable()
    if reason is not None:
        service_missing(reason)
    with SimpleSAMLphp(directory, users) as server:
        yield server
