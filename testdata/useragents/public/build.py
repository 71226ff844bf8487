#!/usr/bin/env python3
"""Builds public.tsv.gz, the labelled corpus of public User-Agents.

Reads the unpacked packages named in README.md (paths given on the command
line, see --help), maps each source's labels to bespoke's classes as
README.md describes, drops strings whose labels disagree, and writes one
gzip-compressed TSV sorted by User-Agent. Needs Python 3 and PyYAML; the
tests read only the output.
"""
import argparse, glob, gzip, io, json, os, re, sys
import yaml

COLS = ["source", "type", "os", "browser", "user_agent"]


def intoli(root):
    """user-agents (Intoli): real browser profiles with navigator.platform
    and screen size. The type comes from the hardware, not from a parser:
    the platform names the system and, on iOS and Android, the smallest
    screen side decides phone (< 600 CSS px, Android's own tablet line)
    or tablet. Profiles whose platform contradicts their User-Agent
    (desktop emulation of phones, spoofing) are left out."""
    seen = {}
    for f in sorted(glob.glob(os.path.join(root, "*/package/*/user-agents.json*"))):
        data = json.load(gzip.open(f) if f.endswith(".gz") else open(f))
        for x in data:
            seen.setdefault(x["userAgent"], x)
    for ua, x in seen.items():
        p = x.get("platform") or ""
        w, h = x.get("screenWidth") or 0, x.get("screenHeight") or 0
        small = min(w, h)
        android = "Android" in ua
        apple_mobile = "iPhone" in ua or "iPad" in ua or "iPod" in ua
        if p in ("iPhone", "iPod"):
            if "iPhone" in ua or "iPod" in ua:
                yield ua, "mobile", "ios", "?"
        elif p == "iPad":
            if "iPad" in ua or "Macintosh" in ua:
                yield ua, "tablet", "ipados", "?"
        elif p == "MacIntel":
            if "Macintosh" not in ua or android or apple_mobile:
                continue
            if 0 < w < h:
                # iOS reports a portrait screen whatever the orientation,
                # a Mac never does: an iPad asking for desktop sites,
                # which sends exactly a Mac's User-Agent.
                yield ua, "tablet", "ipados", "?", "intoli/ipad-as-mac"
            else:
                yield ua, "desktop", "macos", "?"
        elif p in ("Win32", "Win64", "Windows"):
            if "Windows" in ua and "Windows Phone" not in ua and not android and not apple_mobile:
                yield ua, "desktop", "windows", "?"
        elif p.startswith("Linux x86_64") or p.startswith("Linux i686"):
            if android or apple_mobile or "Windows" in ua or "Macintosh" in ua:
                continue
            if "CrOS" in ua:
                yield ua, "desktop", "chromeos", "?"
            elif "Linux" in ua:
                yield ua, "desktop", "linux", "?"
        elif p.startswith("Linux arm") or p.startswith("Linux aarch64"):
            if android and small > 0:
                yield ua, "tablet" if small >= 600 else "mobile", "android", "?"
            elif "CrOS" in ua:
                yield ua, "desktop", "chromeos", "?"


def crawler_user_agents(path):
    """crawler-user-agents: every instance of every pattern is a bot."""
    for e in json.load(open(path)):
        for ua in e.get("instances", []):
            yield ua, "bot", "?", "?"


WOOTHEE_BROWSER = {"Safari": "safari", "Chrome": "chrome", "Firefox": "firefox", "Internet Explorer": "ie", "Opera": "opera",
                   "Edge": "edge", "Vivaldi": "vivaldi", "Yandex Browser": "yandex", "Webview": "webview"}
WOOTHEE_OS = {"iPhone": "ios", "iPod": "ios", "iPad": "ipados", "Android": "android", "Mac OSX": "macos",
              "Linux": "linux", "ChromeOS": "chromeos"}


def woothee(root):
    """woothee testsets: category pc, smartphone, mobilephone, appliance,
    crawler. Its "smartphone" holds Android tablets too, so Android is
    left out there."""
    for f in sorted(glob.glob(os.path.join(root, "woothee/testsets/*.yaml"))):
        for e in yaml.safe_load(open(f)) or []:
            ua, cat, osn, name = e["target"], e.get("category"), e.get("os") or "", e.get("name") or ""
            os_ = WOOTHEE_OS.get(osn, "windows" if osn.startswith("Windows") and osn != "Windows Phone OS" and osn != "Windows CE" else "?")
            typ = None
            if cat == "crawler":
                typ, os_ = "bot", "?"
            elif cat == "misc" and name == "HTTP Library":
                typ, os_ = "bot", "?"
            elif cat == "pc":
                typ = "desktop"
            elif cat == "smartphone":
                if osn in ("iPhone", "iPod"):
                    typ = "mobile"
                elif osn == "iPad":
                    typ = "tablet"
                elif osn in ("Windows Phone OS", "BlackBerry", "BlackBerry 10", "Firefox OS", "SymbianOS"):
                    typ = "mobile"
                    os_ = "windows" if osn == "Windows Phone OS" else "?"
            elif cat == "mobilephone":
                typ = "mobile"
            elif cat == "appliance":
                if any(k in osn for k in ("PlayStation", "Nintendo", "Xbox")):
                    typ = "console"
                elif osn == "DigitalTV":
                    typ = "tv"
            br = WOOTHEE_BROWSER.get(name, "?") if typ != "bot" else "?"
            if typ:
                yield ua, typ, os_, br


UAPJS_TYPE = {"mobile": "mobile", "tablet": "tablet", "smarttv": "tv", "console": "console", "wearable": "wearable"}


def ua_parser_js(path):
    """ua-parser-js device tests: type mobile, tablet, smarttv, console,
    wearable; "embedded" (cars, speakers) and untyped cases are left out."""
    for e in json.load(open(path)):
        t = UAPJS_TYPE.get(e["expect"].get("type"))
        if t and e["ua"]:
            yield e["ua"], t, "?", "?"


def uap_core(path):
    """uap-core device tests: labelled with a device family, not a type;
    only the families that name a type are kept."""
    tv = {"HbbTV", "NetCast.TV", "NetCast.Media", "Inettv", "Roku", "AppleTV", "GoogleTV", "LG Google TV",
          "LG Google TV G3", "LG Web0S SmartTV", "LG smartTV", "Samsung SMART-TV", "Samsung SAMSUNG-SMART-TV", "WebTV"}
    for e in yaml.safe_load(open(path))["test_cases"]:
        fam, ua = e["family"], e["user_agent_string"]
        t = None
        if fam == "Spider":
            t = "bot"
        elif fam == "Apple Watch":
            t = "wearable"
        elif fam in ("iPhone", "iPod", "Generic Feature Phone", "Generic Smartphone"):
            t = "mobile"
        elif fam in ("iPad", "Generic Tablet") or fam.startswith("Kindle"):
            t = "tablet"
        elif fam in tv:
            t = "tv"
        elif fam in ("Mac", "MacBookPro11,1"):
            t = "desktop"
        elif fam.startswith(("PlayStation", "Nintendo", "Xbox")):
            t = "console"
        if t and ua:
            yield ua, t, "?", "?"


UAPJS_BROWSER = {"Chrome": "chrome", "Chromium": "chrome", "Edge": "edge", "Firefox": "firefox", "IE": "ie", "IEMobile": "ie",
                 "Opera": "opera", "Opera Mini": "opera", "Opera Mobi": "opera", "Opera Tablet": "opera", "Safari": "safari",
                 "Mobile Safari": "safari", "Samsung Browser": "samsung", "UCBrowser": "ucbrowser", "Yandex": "yandex",
                 "Vivaldi": "vivaldi", "Silk": "silk", "WeChat": "webview", "Facebook": "webview", "Instagram": "webview",
                 "Line": "webview", "Chrome WebView": "webview", "Android Browser": "android", "MIUI Browser": "miui",
                 "QQBrowser": "qq", "Whale": "whale", "Brave": "brave", "DuckDuckGo": "duckduckgo", "Huawei Browser": "huawei"}
UAPJS_OS = {"Windows": "windows", "Windows Phone": "windows", "Windows Mobile": "windows", "Windows Phone OS": "windows",
            "Mac OS": "macos", "iOS": "ios", "Android": "android", "Chromium OS": "chromeos", "Tizen": "tizen", "webOS": "webos",
            "Xbox": "xbox", "PlayStation": "playstation", "Nintendo": "nintendo", "Debian": "linux", "Ubuntu": "linux",
            "Fedora": "linux", "Mint": "linux", "Gentoo": "linux", "Red Hat": "linux", "Kubuntu": "linux", "SUSE": "linux",
            "Arch": "linux", "Slackware": "linux", "Mandriva": "linux", "CentOS": "linux", "Raspbian": "linux",
            "BlackBerry": "-", "Symbian": "-", "KAIOS": "-", "FreeBSD": "-", "OpenBSD": "-", "NetBSD": "-", "Series40": "-",
            "Bada": "-", "Firefox OS": "-", "Sailfish": "-", "Haiku": "-"}
UAP_BROWSER = {"Chrome": "chrome", "Chrome Mobile": "chrome", "Chrome Mobile iOS": "chrome", "Firefox": "firefox",
               "Firefox Mobile": "firefox", "Firefox iOS": "firefox", "Safari": "safari", "Mobile Safari": "safari",
               "Mobile Safari UI/WKWebView": "webview", "Chrome Mobile WebView": "webview", "Edge": "edge",
               "Edge Mobile": "edge", "IE": "ie", "IE Mobile": "ie", "Opera": "opera", "Opera Mini": "opera",
               "Opera Mobile": "opera", "Samsung Internet": "samsung", "UC Browser": "ucbrowser", "Yandex Browser": "yandex",
               "Vivaldi": "vivaldi", "Amazon Silk": "silk", "Facebook": "webview", "Instagram": "webview",
               "Android": "android", "Brave": "brave", "Whale": "whale", "QQ Browser": "qq", "QQ Browser Mobile": "qq",
               "MiuiBrowser": "miui", "DuckDuckGo Mobile": "duckduckgo", "Googlebot": "googlebot",
               "HeadlessChrome": "headlesschrome"}
UAP_OS = {"iOS": "ios", "Windows": "windows", "Android": "android", "Mac OS X": "macos", "Linux": "linux",
          "Windows Phone": "windows", "Windows Mobile": "windows", "Ubuntu": "linux", "Chrome OS": "chromeos",
          "tvOS": "tvos", "webOS": "webos", "Debian": "linux", "Gentoo": "linux", "Mandriva": "linux",
          "Symbian OS": "-", "Firefox OS": "-", "FreeBSD": "-", "BlackBerry OS": "-", "KaiOS": "-", "BREW": "-",
          "Bada": "-", "Nokia Series 40": "-", "OpenBSD": "-", "NetBSD": "-", "Roku": "-", "Sailfish": "-"}


def os_browser_tests(uapjs_dir, uap_dir):
    """ua-parser-js and uap-core tests of the system and browser name: no
    device type ("?"), names mapped to bespoke's where it has one ("-"
    for systems it leaves unnamed); other names are left out. iOS on an
    iPad is iPadOS to bespoke."""
    def ipad(ua, os_):
        return "ipados" if os_ == "ios" and "iPad" in ua else os_
    for e in json.load(open(os.path.join(uapjs_dir, "os-test.json"))):
        o = UAPJS_OS.get(e["expect"].get("name"))
        if o and e["ua"]:
            yield e["ua"], "?", ipad(e["ua"], o), "?", "ua-parser-js"
    for e in json.load(open(os.path.join(uapjs_dir, "browser-test.json"))):
        b = UAPJS_BROWSER.get(e["expect"].get("name"))
        if b and e["ua"]:
            yield e["ua"], "?", "?", b, "ua-parser-js"
    for e in yaml.safe_load(open(os.path.join(uap_dir, "test_os.yaml")))["test_cases"]:
        o = UAP_OS.get(e["family"])
        if o and e["user_agent_string"]:
            yield e["user_agent_string"], "?", ipad(e["user_agent_string"], o), "?", "uap-core"
    for e in yaml.safe_load(open(os.path.join(uap_dir, "test_ua.yaml")))["test_cases"]:
        b = UAP_BROWSER.get(e["family"])
        if b and e["user_agent_string"]:
            yield e["user_agent_string"], "?", "?", b, "uap-core"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--intoli", required=True, help="folder holding unpacked user-agents packages (*/package/...)")
    ap.add_argument("--crawler-user-agents", required=True, help="crawler-user-agents.json")
    ap.add_argument("--woothee", required=True, help="unpacked woothee package folder")
    ap.add_argument("--ua-parser-js", required=True, help="ua-parser-js test folder (device-test.json, os-test.json, browser-test.json)")
    ap.add_argument("--uap-core", required=True, help="uap-core tests folder (test_device.yaml, test_os.yaml, test_ua.yaml)")
    ap.add_argument("-o", default="public.tsv.gz")
    a = ap.parse_args()
    sources = [
        ("intoli", intoli(a.intoli)),
        ("crawler-user-agents", crawler_user_agents(a.crawler_user_agents)),
        ("woothee", woothee(a.woothee)),
        ("ua-parser-js", ua_parser_js(os.path.join(a.ua_parser_js, "device-test.json"))),
        ("uap-core", uap_core(os.path.join(a.uap_core, "test_device.yaml"))),
        ("", os_browser_tests(a.ua_parser_js, a.uap_core)),
    ]
    rows, conflicts = {}, set()
    for name, gen in sources:
        for ua, typ, os_, br, *src in gen:
            ua = ua.strip()
            if os_ == "android" and re.search(r"; (KF[A-Z]{2,}|AFT[A-Z]+)|Silk/|Kindle", ua):
                # No source tells Amazon's Fire OS from Android, which
                # bespoke does: not labelled.
                os_ = "?"
            if not ua or "\t" in ua or "\n" in ua or ua in conflicts:
                continue
            if ua in rows:
                # Another source's labels of the same string: fill in what
                # is not labelled yet, drop the string where they differ.
                old = list(rows[ua])
                for i, v in ((1, typ), (2, os_), (3, br)):
                    if v == "?":
                        continue
                    if old[i] == "?":
                        old[i] = v
                    elif old[i] != v:
                        conflicts.add(ua)
                if ua in conflicts:
                    del rows[ua]
                else:
                    rows[ua] = tuple(old)
                continue
            rows[ua] = (src[0] if src else name, typ, os_, br, ua)
    buf = io.StringIO()
    buf.write("\t".join(COLS) + "\n")
    for ua in sorted(rows):
        buf.write("\t".join(rows[ua]) + "\n")
    with open(a.o, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as g:
            g.write(buf.getvalue().encode())
    counts = {}
    for r in rows.values():
        k = (r[0], r[1], "os" if r[2] != "?" else "", "browser" if r[3] != "?" else "")
        counts[k] = counts.get(k, 0) + 1
    for k in sorted(counts):
        print(*k, counts[k], file=sys.stderr)
    print("total", len(rows), "conflicts dropped", len(conflicts), file=sys.stderr)


if __name__ == "__main__":
    main()
