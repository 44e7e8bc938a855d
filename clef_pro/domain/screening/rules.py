"""The shapes of data Clef Pro never stores, one rule each.

Every rule is an RE2 pattern (linear time, no backtracking, whatever the
input) over the folded text (see :mod:`.normalise`), guarded by a cheap test
it cannot match without: a literal that must occur, or a minimum length. All
rules' literals are looked for in one pass over the text (an RE2 set, an
automaton of plain strings); most strings of a report are short names and
sentences in which none occurs, so most rules never run their pattern at all.

Patterns stay cheap under leftmost-first matching: an alternative that waits
for a closing quote stops at the end of its line, and a key block without an
END line runs to the end of the text, so a search hardly looks past the
shape it reports and successive searches over one string do not rescan it.
The Python-side work per string is bounded as well (see ``MAX_MATCHES`` in
:mod:`.engine`).

What deliberately passes:

- The Clef CLI's own redacted display of a recipient, ``age1…xxxxxxxx`` (four
  characters, an ellipsis, the last eight): it is how the CLI names a
  recipient without giving it away, and refusing it would fail every run that
  reports a missing or unexpected recipient.
- URLs in general (a pipeline link is legitimate), except where the URL
  itself carries a shape: a vault host or path, a key ARN, credentials, a
  token, a path to an encrypted file. The absolute-path and plain assignment
  rules look at the text with URLs blanked out; the others see URLs whole.
- Repository-relative paths that name no secret (``schemas/payments.yaml``,
  ``.clef-meta.yaml``): the CLI's lint messages quote them.
- Numbers: a run of sixteen decimal digits is not taken for a key id. (Ten
  groups of four digits in a row are refused as a fingerprint, though: no
  CLI sentence holds them.)
- Commit ids where they belong: ``commitSha`` is checked by its own pattern
  and holds nothing else. Anywhere else a run of 40 hex digits is refused: it
  cannot be told from a PGP fingerprint, and free text never needs a commit
  id, since the report carries its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import ne
from typing import Any, Final

import re2

#: A match's spans: the whole match first, then each group ((-1, -1) if it
#: did not take part).
Spans = list[tuple[int, int]]


def _public_search(regexp: re2._Regexp[bytes], text: bytes, position: int) -> Spans | None:
    match = regexp.search(text, position)
    if match is None:
        return None
    return [match.span(group) for group in range(regexp.groups + 1)]


def _direct_search() -> Callable[[re2._Regexp[bytes], bytes, int], Spans | None] | None:
    """RE2's own match call, without the module's per-call generator and match
    object: the same spans for bytes at about half the cost. The binding is
    not public, so it is used only if it answers a probe exactly as the
    public API does."""
    try:
        unanchored: Any = re2._re2.RE2.Anchor.UNANCHORED  # type: ignore[attr-defined]

        def search(regexp: re2._Regexp[bytes], text: bytes, position: int) -> Spans | None:
            spans: Spans = regexp._regexp.Match(  # type: ignore[attr-defined]
                unanchored, text, position, len(text)
            )
            return None if spans[0][0] < 0 else [tuple(span) for span in spans]  # type: ignore[misc]

        probe = re2.compile(rb"(?:^|[^0-9])(4[0-9])|x(y)?")
        for text, position in [(b"a 42 b", 0), (b"42", 1), (b"zx", 0), (b"none", 0)]:
            if search(probe, text, position) != _public_search(probe, text, position):
                return None
    except Exception:
        return None
    return search


#: Search ``text`` from ``position``: the spans of the leftmost match, or ``None``.
search: Final = _direct_search() or _public_search


_CLASS_OF: Final = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-=",
    b"U" * 26 + b"l" * 26 + b"d" * 10 + b"ssss=",
)


def looks_random(run: bytes) -> bool:
    """Whether a long base64-alphabet run reads like random data, not words.

    Random base64 switches between upper case, lower case, digits and symbols
    at about two characters in three, and about one letter in five is a
    vowel; words, kebab-case branch names, paths and CamelCase identifiers
    stay in one class for several characters at a time and are two-fifths
    vowels. A run needs upper case, lower case and digits, and either a
    switch at least every other character, or a switch every third with
    under 30% vowels (which keeps AWS's own example secret key, and misses
    about 0.4% of random 40-character keys, fewer of longer ones).
    """
    classes = run.translate(_CLASS_OF)
    if not (b"U" in classes and b"l" in classes and b"d" in classes):
        return False
    switches = sum(map(ne, classes, classes[1:]))
    if switches * 2 >= len(run) - 1:
        return True
    if switches * 20 < (len(run) - 1) * 7:
        return False
    letters = len(run) - classes.count(b"d") - classes.count(b"s") - classes.count(b"=")
    vowels = sum(run.count(vowel) for vowel in b"aeiouAEIOU")
    return vowels * 10 < letters * 3


@dataclass(frozen=True, slots=True)
class Rule:
    """One shape of forbidden data.

    ``kind`` names it in errors (never the matched text). The pattern only
    runs if the folded text is at least ``min_length`` long and, when
    ``literals`` are given, one of them occurs in it (ignoring case).
    For shapes made of few characters (hex), ``charset`` and ``min_charset``
    add a guard: at least that many characters of the set must occur.
    ``without_urls`` runs it on the text with URLs blanked out. ``accept``
    vets each match, for shapes a regular expression cannot finish deciding.

    A pattern that has to consume a boundary character before or after its
    shape may capture the shape in a group, so redaction leaves the boundary
    alone; but submatches cost a second, slower pass over the match, so only
    ``short`` patterns (matches of bounded length) may have groups. Others
    get their ends trimmed of separators instead.
    """

    kind: str
    pattern: str
    literals: tuple[str, ...] = ()
    min_length: int = 1
    without_urls: bool = False
    accept: Callable[[bytes], bool] | None = None
    short: bool = False
    charset: bytes = b""
    min_charset: int = 0
    compiled: re2._Regexp[bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.literals and self.min_length < 8 and not self.min_charset:
            raise ValueError(f"the rule for {self.kind} needs a literal or a length guard")
        compiled = re2.compile(self.pattern.encode())
        if compiled.groups and not self.short:
            raise ValueError(f"the rule for {self.kind} may not capture: its matches are long")
        object.__setattr__(self, "compiled", compiled)

    def passes_charset_guard(self, text: bytes) -> bool:
        """Whether ``text`` holds enough characters of the rule's set (C-speed count)."""
        if not self.min_charset:
            return True
        return len(text) - len(text.translate(None, self.charset)) >= self.min_charset


# Shared pieces -----------------------------------------------------------------

_HEX = "[0-9a-fA-F]"
_HEX_BYTES: Final = b"0123456789abcdefABCDEF"
_NOT_HEX = "[^0-9a-fA-F]"


def _hex_with_letter(length: int) -> str:
    """Exactly ``length`` hex digits, at least one of them a letter: a run of
    decimal digits is a number, not a key id. Spelled out by the position of
    the first letter, so the automaton decides it and no match is vetted (or
    rejected) in Python."""
    alternatives = []
    for first in range(length):
        rest = length - 1 - first
        alternatives.append(
            (f"[0-9]{{{first}}}" if first else "")
            + "[a-fA-F]"
            + (f"[0-9a-fA-F]{{{rest}}}" if rest else "")
        )
    return "(?:" + "|".join(alternatives) + ")"


def _grouped_key_id() -> str:
    """Four groups of four hex digits, separated by a space or colon, with a letter somewhere."""
    group, separator = "[0-9a-fA-F]{4}", "[ :]"
    alternatives = []
    for lettered in range(4):
        parts = ["[0-9]{4}"] * lettered + [_hex_with_letter(4)] + [group] * (3 - lettered)
        alternatives.append(separator.join(parts))
    return "(?:" + "|".join(alternatives) + ")"


#: Between the groups of a fingerprint as tools print it (gpg uses one space,
#: two in the middle; others use colons or dashes).
_FP_SEP = r"[\s:._-]{1,2}"
#: The value of an assignment: quoted (bounded, closing quote optional) or a word.
_VALUE = r"""(?:'[^'\n]*'?|"[^"\n]*"?|`[^`\n]*`?|[^\s'"`=][^\s]*)"""
#: What may stand before a variable name (so path and URL parts do not count).
_BEFORE_NAME = r"(?:^|[^A-Za-z0-9_.$/-])"
_SENSITIVE_NAMES = (
    r"(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key"
    r"|private[_-]?key|secret[_-]?key|client[_-]?secret|auth[_-]?token|credentials?)"
)
_AZURE_CLOUDS = r"(?:azure\.net|azure\.cn|usgovcloudapi\.net|microsoftazure\.de)"
#: One path component's characters, and a run of components.
_PATH_CHARS = r"[A-Za-z0-9._@+~%$-]"
_PATHY = r"[A-Za-z0-9._@+~%$/\\-]"
#: What may stand before a path or file name (not part of one).
_BEFORE_PATH = r"(?:^|[^A-Za-z0-9._@+~%$-])"
_SECRET_EXTENSIONS: Final = (
    "pem",
    "key",
    "p12",
    "pfx",
    "jks",
    "keystore",
    "ppk",
    "kdbx",
    "gpg",
    "pgp",
    "asc",
    "age",
)
_CONFIG_EXTENSIONS = r"(?:ya?ml|json|env|ini|toml|txt|conf|cfg|properties|xml|hcl|tfvars)"
_SENSITIVE_DIRS = (
    r"(?:secrets?|private|credentials?|keys?|certs?|tls|\.ssh|\.gnupg|\.aws|\.sops|sops|age"
    r"|vault)"
)
#: Where a file name ends when the pattern cannot use \b (after a dot suffix).
_NAME_END = r"""(?:$|[\s'"`),;:.\]}>/])"""


RULES: Final[tuple[Rule, ...]] = (
    # --- age ----------------------------------------------------------------
    # A recipient is age1 and 58 bech32 characters (plugin recipients run
    # longer); 20 are enough to refuse a fragment, and nothing may stand
    # between it and a word it is glued to (dev_age1...).
    Rule("an age recipient", r"(?i:age1[0-9a-z]{20,})", literals=("age1",)),
    Rule(
        "an age identity",
        r"(?i:age-secret-key-1[0-9a-z]*|age-plugin-[0-9a-z]+-1[0-9a-z]{20,})",
        literals=("secret-key-1", "age-plugin-"),
    ),
    # --- OpenPGP ------------------------------------------------------------
    # Fingerprints bare (40 hex, 64 for v5 keys), in gpg --fingerprint's
    # groups of four, as colon-separated pairs, or in groups of eight. Digits
    # alone in these layouts are refused too: no CLI sentence holds ten
    # four-digit numbers in a row.
    Rule(
        "a PGP fingerprint",
        rf"{_HEX}{{40,}}"
        rf"|{_HEX}{{4}}(?:{_FP_SEP}{_HEX}{{4}}){{9,}}"
        rf"|{_HEX}{{2}}(?:{_FP_SEP}{_HEX}{{2}}){{19,}}"
        rf"|{_HEX}{{8}}(?:{_FP_SEP}{_HEX}{{8}}){{4,}}",
        min_length=40,
        charset=_HEX_BYTES,
        min_charset=40,
    ),
    # Long key ids: 16 hex, with 0x, bare, or in groups of four.
    Rule("a PGP key id", rf"0[xX]{_HEX}{{16}}", literals=("0x",), min_length=18),
    Rule(
        "a PGP key id",
        rf"(?:^|{_NOT_HEX})({_hex_with_letter(16)})(?:{_NOT_HEX}|$)"
        rf"|(?:^|{_NOT_HEX})({_grouped_key_id()})(?:{_NOT_HEX}|$)",
        min_length=16,
        short=True,
        charset=_HEX_BYTES,
        min_charset=16,
    ),
    # Armoured blocks in any case, to their END line (or the end of the text).
    Rule(
        "a PEM or PGP key block",
        r"(?is:-{2,}\s*begin[ a-z0-9]{0,40}(?:key|message|signature|block|file)[ a-z0-9]{0,40}"
        r"-{2,}(?:.*?-{2,}\s*end[ a-z0-9]{0,40}-{2,}|.*))"
        r"|(?i:begin\s+(?:[a-z0-9]+\s+){0,4}private\s+key)"
        r"|(?i:begin\s+pgp\s)",
        literals=("begin",),
    ),
    # The base64 body of one, without its armour: DER keys and certificates
    # start with MII, OpenPGP key packets with mQ or mD.
    Rule(
        "a PEM or PGP key block",
        r"(?:MII|mQ[IE]|mDM)[A-Za-z0-9+/]{60,}={0,2}",
        literals=("mii", "mqi", "mqe", "mdm"),
        min_length=63,
    ),
    # --- SSH ------------------------------------------------------------------
    Rule(
        "an SSH public key",
        r"(?:ssh-(?:rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp(?:256|384|521)"
        r"|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)\s+AAAA[0-9A-Za-z+/]*={0,3}"
        r"|AAAA(?:B3NzaC1|C3NzaC1|E2VjZHNh)[0-9A-Za-z+/]*={0,3}",
        literals=("ssh-", "ecdsa-sha2-", "aaaab3nzac1", "aaaac3nzac1", "aaaae2vjzhnh"),
    ),
    # --- cloud KMS and vaults ---------------------------------------------------
    Rule("an AWS KMS key ARN", r"(?i:arn:aws[a-z-]*:kms:[^\s'\"<>]*)", literals=("arn:",)),
    Rule(
        "an AWS resource ARN",
        r"(?i:arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]*:[^\s'\"<>]*)",
        literals=("arn:",),
    ),
    Rule(
        "a GCP KMS key name",
        r"(?i:(?:projects/[^/\s]+/locations/[^/\s]+/)?keyRings/[^/\s]+"
        r"(?:/cryptoKeys/[^/\s]+(?:/cryptoKeyVersions/[^/\s]+)?)?"
        r"|cryptoKeys/[^/\s]+(?:/cryptoKeyVersions/[^/\s]+)?)",
        literals=("keyrings/", "cryptokeys/"),
    ),
    Rule(
        "an Azure Key Vault URL",
        rf"(?i:(?:https?://)?[a-z0-9-]*\.(?:vault|managedhsm)\.{_AZURE_CLOUDS}"
        r"(?::[0-9]+)?(?:/[^\s'\"<>]*)?)",
        literals=("vault.", "managedhsm."),
    ),
    Rule(
        "a HashiCorp Vault transit key path",
        # SOPS's form is https://vault:8200/v1/<mount>/keys/<name>.
        r"(?i:(?:[a-z][a-z0-9+.-]*://[^\s/]*)?/v1/(?:[a-z0-9_.-]+/)+keys/[a-z0-9_.-]+"
        r"|transit/(?:keys|encrypt|decrypt|datakey/[a-z-]+|rewrap|sign|verify|hmac)"
        r"/[a-z0-9_.-]+)",
        literals=("keys/", "transit/"),
    ),
    # --- files -------------------------------------------------------------------
    Rule(
        "an encrypted file path",
        # name.enc.yaml, name.enc, name.sops.json, and SOPS's own .sops.yaml.
        rf"(?i:{_PATHY}*[a-z0-9_@-]\.(?:enc|sops)(?:\.[a-z0-9]+)?\b"
        rf"|(?:^|[^a-z0-9_.-])\.sops\.ya?ml\b)",
        literals=(".enc", ".sops"),
    ),
    Rule(
        "a path to a secrets file",
        # A file under a directory that says it holds secrets; a file with a
        # key or encrypted-file extension; dotenv files; well-known names.
        rf"(?i:{_BEFORE_PATH}(?:{_PATH_CHARS}+[/\\])*{_SENSITIVE_DIRS}[/\\](?:{_PATH_CHARS}+[/\\])*"
        rf"{_PATH_CHARS}*\.{_CONFIG_EXTENSIONS}\b"
        rf"|{_PATHY}*[a-z0-9_-]\.(?:{'|'.join(_SECRET_EXTENSIONS)})\b"
        rf"|{_BEFORE_PATH}(?:{_PATH_CHARS}+/)*\.env(?:\.[a-z0-9_-]+)?{_NAME_END}"
        rf"|{_PATHY}*[a-z0-9_-]\.env{_NAME_END}"
        r"|\bid_(?:rsa|dsa|ecdsa|ed25519)(?:_sk)?(?:\.pub)?\b"
        r"|\bkeys\.txt\b"
        r"|\.(?:aws/credentials|docker/config\.json|kube/config|netrc|pgpass|npmrc|pypirc"
        r"|git-credentials)\b)",
        literals=(
            "/",
            "\\",
            ".env",
            "id_",
            "keys.txt",
            ".netrc",
            ".pgpass",
            ".npmrc",
            ".pypirc",
            ".git-",
            *(f".{extension}" for extension in _SECRET_EXTENSIONS),
        ),
    ),
    Rule(
        "an absolute file path",
        # POSIX (two components or more), Windows drive and UNC, home, file:
        # URIs, and paths built on $VARS or %VARS%.
        rf"(?:^|[^A-Za-z0-9.~-])(?:/{_PATH_CHARS}+){{2,}}/?"
        r"|(?:^|[^A-Za-z0-9])[A-Za-z]:[\\/][^\s'\"]*"
        r"|\\\\[^\s\\]+\\[^\s'\"]*"
        rf"|(?:^|[^A-Za-z0-9.~-])~{_PATH_CHARS}*[/\\][^\s'\"]*"
        r"|(?i:file:(?:/|\\|[a-z]:)[^\s'\"]*)"
        r"|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?[/\\][^\s'\"]+"
        r"|%[A-Za-z_][A-Za-z0-9_]*%\\[^\s'\"]+",
        literals=("/", "\\", "file:"),
        without_urls=True,
    ),
    # --- SOPS --------------------------------------------------------------------
    Rule(
        "SOPS metadata",
        r"(?i:(?:^|[^a-z0-9_-])sops\s*:"
        r"|(?:sops_)?last_?modified\b[^\n]*"
        r"|enc\[[a-z0-9_]+,[^\]\n]*\]?"
        r"|\bsops_[a-z0-9_]+\s*[=:][^\n]*"
        r"|\b(?:encrypted_regex|unencrypted_regex|encrypted_suffix|unencrypted_suffix"
        r"|encrypted_comment_regex|unencrypted_comment_regex|mac_only_encrypted"
        r"|shamir_threshold|hc_vault_transit_uri|hc_vault|azure_kv|gcp_kms|key_groups"
        r"|creation_rules)\b[^\n]*)",
        literals=(
            "sops",
            "lastmodified",
            "last_modified",
            "enc[",
            "encrypted_",
            "mac_only",
            "shamir",
            "hc_vault",
            "azure_kv",
            "gcp_kms",
            "key_groups",
            "creation_rules",
        ),
    ),
    Rule(
        "a SOPS version",
        # As sops --version prints it, or named a version; not sops-3.9.0 in a
        # dependency bump's branch name.
        r"(?i:sops[\s_]{0,3}version[\s:=]{0,3}v?[0-9]+\.[0-9]+(?:\.[0-9]+)?"
        r"|sops\s+v?[0-9]+\.[0-9]+(?:\.[0-9]+)?)",
        literals=("sops",),
    ),
    # Rotation and modification times: an ISO 8601 date with a time of day.
    Rule(
        "a timestamp",
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"
        r"(?:[Zz]|[+-][0-9]{2}:?[0-9]{2})?",
        literals=(":",),
        min_length=16,
    ),
    # --- tokens and keys -----------------------------------------------------------
    Rule(
        "an AWS access key id",
        r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16}",
        literals=(
            *("a3t", "akia", "asia", "abia", "acca", "agpa"),
            *("aida", "aipa", "anpa", "anva", "aroa", "apka"),
        ),
        min_length=20,
    ),
    Rule(
        "an AWS secret access key",
        r"(?i:aws[a-z0-9_.-]{0,32}(?:secret|sk)[a-z0-9_.-]{0,32}[\"']?\s*[=:]\s*[\"']?)"
        r"[A-Za-z0-9/+]{40}",
        literals=("aws",),
        min_length=44,
    ),
    Rule(
        "a JSON web token",
        r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){1,3}",
        literals=("eyj",),
    ),
    Rule(
        "a GitHub token",
        r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,}",
        literals=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    Rule(
        "a GitLab token",
        r"gl(?:pat|oas|dt|rt|cbt|ptt|ft|imt|agent|soat|ffct)-[A-Za-z0-9_-]{20,}",
        literals=(
            *("glpat-", "gloas-", "gldt-", "glrt-", "glcbt-", "glptt-"),
            *("glft-", "glimt-", "glagent-", "glsoat-", "glffct-"),
        ),
    ),
    Rule(
        "credentials in a URL",
        r"(?i:[a-z][a-z0-9+.-]{0,31}://[^/\s:@]+:[^/\s@]+@[^\s'\"<>]*)",
        literals=("://",),
    ),
    # --- assignments -------------------------------------------------------------------
    # Sensitive names in any case and any assignment form, URLs included
    # (?token=...); then NAME=value for names that read as environment
    # variables (upper case, or with an underscore), export NAME=..., and YAML
    # or JSON keys where the name is unmistakably a variable (UPPER_SNAKE).
    Rule(
        "an environment variable",
        rf"(?i:(?:^|[^a-z0-9])(?:[a-z0-9]+[_.-])*{_SENSITIVE_NAMES}[\"']?\s*[=:]\s*{_VALUE})",
        literals=(
            *("pass", "pwd", "secret", "token", "credential"),
            *(f"{word}{joint}key" for word in ("api", "access", "private") for joint in "_-"),
            *("apikey", "accesskey", "privatekey"),
        ),
    ),
    Rule(
        "an environment variable",
        rf"{_BEFORE_NAME}(?:[A-Z_][A-Z0-9_]+|[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]*)\s*=\s*{_VALUE}"
        rf"|(?i:\bexport\s+[a-z_][a-z0-9_]*\s*=\s*{_VALUE}?)"
        rf"|{_BEFORE_NAME}[\"']?[A-Z][A-Z0-9]*_[A-Z0-9_]*[\"']?\s*:\s*{_VALUE}",
        literals=("=", ":"),
        without_urls=True,
    ),
    # --- anything else that reads as random -----------------------------------------------
    Rule(
        "a long base64 blob",
        r"[A-Za-z0-9+/_-]{40,}={0,2}",
        min_length=40,
        accept=looks_random,
    ),
)

#: Scheme-prefixed URLs, blanked out for rules with ``without_urls``.
URL: Final = re2.compile(rb"(?i:[a-z][a-z0-9+.-]{0,31}://[^\s'\"<>]*)")
