"""Which app sent a request, where the traffic says it (DESIGN.md, "attribute: ... from which app
where the traffic says so"; the JSON report's ``app: {name, id}``).

What says it, most telling first:

1. A package or bundle ID in the request itself: Android WebViews add ``X-Requested-With:
   <package>`` (Chromium's WebView, since Android 4.4); ad and analytics SDKs send the app they
   run in as ``bundle``, ``app_bundle``, ``appBundle``, OpenRTB's ``app.bundle`` (IAB OpenRTB 2.5
   §3.2.14), ``package_name``, ``_package``, ``msid``...  A parameter that names *another* app
   (the advertised one: Mintegral's ``bdl``, a Play Store link's ``id``) is not listed.
2. The User-Agent's product token when it is an app's, not an HTTP stack's or a browser's
   (RFC 9110 §10.1.5: ``product/version``): ``Instagram 7.1.1 Android (...)``,
   ``Battle.net/1.3.0.5952``, ``Magican (unknown version) CFNetwork/720.5.7 Darwin/14.5.0`` (an
   iOS app: CFNetwork's UA starts with the app's bundle name), ``MicroMessenger Client``,
   Facebook's in-app browser ``[FBAN/FBIOS;FBAV/...]``.
3. The version next to a package ID: ``app_version_name``, ``_v``, ``appv``, ``app_version``.

A package ID alone gives ``id`` (and ``name`` stays None unless the User-Agent names it); a UA
token alone gives ``name``.  Nothing here guesses: a request that says nothing has no app.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from scanner.detect.fields import Field
from scanner.detect.keys import key_forms
from scanner.model import AppRef, HttpRequest

# Keys (keys.py's normal form, whole name or last words) whose value is the sending app's package.
PACKAGE_KEYS = frozenset(
    {"bundle", "bundleid", "appbundle", "appbundleid", "package", "packagename", "pkg", "pkgname", "apppackage",
     "apppackagename", "applicationid", "appid", "msid", "appidentifier", "sourceapp", "xrequestedwith", "requestedwith"}
)
VERSION_KEYS = frozenset({"appversion", "appversionname", "appv", "appver", "v", "av", "versionname", "clientversion"})
# A reverse-DNS package or bundle ID: com.sceneway.kankan, com.zhiliaoapp.musically.
_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+){1,6}$")
_TLDS_FIRST = ("com.", "net.", "org.", "io.", "tv.", "air.", "jp.", "cn.", "kr.", "de.", "fr.", "uk.", "co.", "me.", "app.",
               "br.", "ru.", "in.", "id.", "vn.", "tw.", "es.", "it.", "nl.", "au.", "ca.", "us.", "info.", "mobi.", "gov.")
_ITUNES_ID = re.compile(r"^(?:id)?\d{6,12}$")
_VERSION = re.compile(r"^v?\d+(?:\.\d+){0,4}(?:[-_ ][\w.]+)?$")

# User-Agent products that are HTTP stacks, browsers or OSes, not apps.
_NOT_APPS = frozenset(
    {"mozilla", "dalvik", "okhttp", "apache-httpclient", "cfnetwork", "darwin", "curl", "wget", "python-requests",
     "java", "go-http-client", "android", "linux", "windows", "microsoft-cryptoapi", "applewebkit", "chrome", "safari",
     "opera", "ucweb", "ucbrowser", "gecko", "firefox", "version", "mobile", "blizzard", "libcurl", "axios",
     "cronet", "grpc-java-okhttp", "nsurlsession", "dart", "unity", "unityplayer", "googlemobileads", "androidsdk"}
)
# The first product: one token, then "/version", " version" or iOS's " (unknown version)".
_UA_PRODUCT = re.compile(r"^\s*([A-Za-z][A-Za-z0-9._+-]{1,40})(?:/([^\s;()]+)|\s+(\d[\w.]*)|\s+\((?:unknown version)\))")
_FB_IN_APP = re.compile(r"FBAN/([A-Za-z]+).*?FBAV/([\d.]+)")
_IOS_STACK = ("CFNetwork/", "Darwin/")
_NAMED_CLIENT = re.compile(r"^([A-Z][A-Za-z0-9]{2,30}) Client$")  # "MicroMessenger Client" (WeChat)


def app_of(event: HttpRequest, fields: Iterable[Field]) -> AppRef | None:
    """The app a request says it comes from, or None."""
    package: str | None = None
    version: str | None = None
    for header, content in event.headers:
        if header.lower() == "x-requested-with":
            content = content.strip()
            if _is_package(content):
                package = content
                break
    for item in fields:
        if item.location not in ("query", "body", "header"):
            continue
        forms = key_forms(item.key)
        if not forms:
            continue
        whole = forms[0]
        last = forms[1] if len(forms) > 1 else whole
        if package is None and (whole in PACKAGE_KEYS or (len(forms) > 2 and forms[2] in PACKAGE_KEYS)):
            value = item.value.strip()
            if _is_package(value) or (whole in ("bundle", "appbundle", "bundleid") and _ITUNES_ID.match(value)):
                package = value
        elif version is None and (whole in VERSION_KEYS or (last == "version" and whole.startswith("app"))):
            value = item.value.strip()
            if _VERSION.match(value):
                version = value
    name, ua_version = _user_agent_app(event.user_agent)
    if package is None and name is None:
        return None
    return AppRef(name=name, id=package, version=ua_version or (version if package else None))


def _is_package(value: str) -> bool:
    return bool(_PACKAGE.match(value)) and value.lower().startswith(_TLDS_FIRST) and ".." not in value


def _user_agent_app(agent: str | None) -> tuple[str | None, str | None]:
    if not agent:
        return None, None
    facebook = _FB_IN_APP.search(agent)
    if facebook:
        return ("Facebook" if facebook.group(1).upper().startswith("FB") else facebook.group(1)), facebook.group(2)
    named = _NAMED_CLIENT.match(agent.strip())
    if named and named.group(1).lower() not in _NOT_APPS:
        return named.group(1), None
    match = _UA_PRODUCT.match(agent)
    if match is None:
        return None, None
    product = match.group(1).strip()
    if product.lower().split()[0] in _NOT_APPS or product.lower() in _NOT_APPS:
        return None, None
    version = match.group(2) or match.group(3)
    if product.isupper() and ":" in agent.split()[0]:
        return None, None  # "DESKTOP:MAC:10.10.5" is a platform string, not a product
    if match.group(2) is None and match.group(3) is None and not any(stack in agent for stack in _IOS_STACK):
        return None, None
    return product, version
