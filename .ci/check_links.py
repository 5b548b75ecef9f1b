#!/usr/bin/env python3
"""Checks that every relative link in README.md and docs/ resolves.

For README.md and every docs/**/*.md:
- every relative link target exists: markdown links and images (`[text](target)`, `![alt](target)`,
  reference definitions `[ref]: target`) and HTML `<img src=...>` / `<a href=...>`; a target is
  resolved against the linking file's folder (a leading `/` against the repository root);
- every `#anchor`, in the same file (`#anchor`) or in another markdown file (`file.md#anchor`), names a
  heading of that file by its GitHub anchor: lowercase, spaces to '-', punctuation other than '-' and
  '_' removed, duplicates suffixed `-1`, `-2`, ... (an explicit `<a name=...>` or `id=...` counts too).

Links inside fenced code blocks and inline code spans are not links. Absolute links (http:, https:,
mailto:, any other scheme, `//host`) are not checked. An anchor on a file that is not markdown (e.g.
`src/main.rs#L10`) is not checked, only the file.

Usage: check_links.py [FILE.md ...]   (default: README.md and docs/**/*.md; exits 1 listing each broken
                                       link as `file:line: target`)
       check_links.py --self-test      (shows that the checker passes good links and catches bad ones)
"""

import os
import re
import sys
import unicodedata
from urllib.parse import unquote

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# [text](target "title"): text may hold one level of brackets and span lines; target may hold
# balanced parentheses or be written <like this>.
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]\\]|\\.|\[[^\[\]]*\])*\]"
    r"\(\s*(?P<target><[^<>\n]*>|(?:[^\s()\\]|\\.|\([^\s()]*\))+)"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?\s*\)"
)
REF_DEF = re.compile(r"^ {0,3}\[(?:[^\[\]\\]|\\.)+\]:[ \t]*(?P<target><[^<>\n]*>|\S+)", re.M)
HTML_ATTR = re.compile(r"<(?:img|a|source)\b[^>]*?\b(?:src|href)\s*=\s*(?P<q>[\"']?)(?P<target>[^\"'\s>]+)(?P=q)", re.I)
HTML_ANCHOR = re.compile(r"<[a-z][^>]*?\b(?:name|id)\s*=\s*[\"']?([^\"'\s>]+)", re.I)
SCHEME = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//)")


def strip_fences(text):
    """The text with every line of a fenced code block (fences included) blanked, so that line
    numbers stay true and nothing inside a block is read as a link or a heading."""
    out = []
    fence = None  # (char, length) of the open fence
    for line in text.split("\n"):
        m = FENCE.match(line)
        if fence is None:
            if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
                fence = (m.group(1)[0], len(m.group(1)))
                out.append("")
                continue
            out.append(line)
        else:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= fence[1] and not m.group(2).strip():
                fence = None
            out.append("")
    return "\n".join(out)


def strip_code_spans(text):
    """Inline code spans replaced by spaces of the same length (offsets and line numbers kept)."""
    result = []
    i = 0
    n = len(text)
    while i < n:
        if text[i] == "`":
            j = i
            while j < n and text[j] == "`":
                j += 1
            ticks = text[i:j]
            close = text.find(ticks, j)
            # a run of backticks closes only on a run of exactly the same length
            while close != -1 and (close + len(ticks) < n and text[close + len(ticks)] == "`"):
                k = close
                while k < n and text[k] == "`":
                    k += 1
                close = text.find(ticks, k)
            if close == -1 or "\n\n" in text[j:close]:
                result.append(ticks)
                i = j
                continue
            span = text[i:close + len(ticks)]
            result.append(re.sub(r"[^\n]", " ", span))
            i = close + len(ticks)
        else:
            result.append(text[i])
            i += 1
    return "".join(result)


def heading_text_to_anchor(text):
    """GitHub's anchor of a heading's text (github-slugger, without the duplicate suffix)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = text.strip().lower()
    kept = []
    for ch in text:
        if ch in "-_" or ch == " ":
            kept.append("-" if ch == " " else ch)
        elif unicodedata.category(ch)[0] in ("L", "N", "M"):
            kept.append(ch)
        # everything else (punctuation, symbols, backticks, emphasis marks) is dropped
    return "".join(kept)


def anchors(text):
    """Every anchor a markdown file offers: its headings' GitHub anchors (with -1, -2, ... for
    duplicates) and explicit HTML name/id attributes."""
    body = strip_fences(text)
    lines = body.split("\n")
    found = set()
    occurrences = {}

    def add(heading):
        base = heading_text_to_anchor(heading)
        slug = base
        while slug in occurrences:
            occurrences[base] += 1
            slug = f"{base}-{occurrences[base]}"
        occurrences[slug] = 0
        found.add(slug)

    for i, line in enumerate(lines):
        m = ATX.match(line)
        if m:
            add(m.group(2) or "")
            continue
        if (
            line.strip()
            and i + 1 < len(lines)
            and SETEXT.match(lines[i + 1])
            and (i == 0 or not lines[i - 1].strip())
            and not line.lstrip().startswith(("|", ">", "- ", "* ", "+ "))
            and not re.match(r"^ {0,3}(?:-{3,}|\*{3,}|_{3,})\s*$", line)
        ):
            add(line)
    for m in HTML_ANCHOR.finditer(strip_code_spans(body)):
        found.add(m.group(1))
    return found


def links(text):
    """(line, target) of every link in a markdown text, outside code."""
    body = strip_code_spans(strip_fences(text))
    result = []
    for pattern in (INLINE_LINK, REF_DEF, HTML_ATTR):
        for m in pattern.finditer(body):
            target = m.group("target")
            line = body.count("\n", 0, m.start("target")) + 1
            if target.startswith("<") and target.endswith(">"):
                target = target[1:-1]
            result.append((line, target))
    result.sort()
    return result


class FileSystem:
    """The repository on disk; paths are relative to its root, with '/' separators."""

    def __init__(self, root):
        self.root = root

    def exists(self, path):
        return os.path.exists(os.path.join(self.root, path))

    def is_file(self, path):
        return os.path.isfile(os.path.join(self.root, path))

    def read(self, path):
        with open(os.path.join(self.root, path), encoding="utf-8") as f:
            return f.read()


class InMemory:
    """A repository of a few files held in a dict, for the self-test."""

    def __init__(self, files):
        self.files = files

    def exists(self, path):
        path = path.rstrip("/")
        return path in ("", ".") or path in self.files or any(f.startswith(path + "/") for f in self.files)

    def is_file(self, path):
        return path in self.files

    def read(self, path):
        return self.files[path]


def check(repo, paths):
    """Broken links of the given markdown files as (file, line, target, why)."""
    broken = []
    anchor_cache = {}

    def anchors_of(path):
        if path not in anchor_cache:
            anchor_cache[path] = anchors(repo.read(path))
        return anchor_cache[path]

    for path in paths:
        folder = os.path.dirname(path)
        for line, target in links(repo.read(path)):
            if SCHEME.match(target):
                continue
            file_part, _, anchor = target.partition("#")
            file_part = unquote(file_part.split("?", 1)[0])
            anchor = unquote(anchor)
            if file_part:
                if file_part.startswith("/"):
                    resolved = os.path.normpath(file_part.lstrip("/"))
                else:
                    resolved = os.path.normpath(os.path.join(folder, file_part))
                resolved = resolved.replace(os.sep, "/")
                if resolved.startswith("../") or resolved == "..":
                    broken.append((path, line, target, "outside the repository"))
                    continue
                if not repo.exists(resolved):
                    broken.append((path, line, target, f"no such file: {resolved}"))
                    continue
            else:
                resolved = path
            if anchor and repo.is_file(resolved) and resolved.lower().endswith((".md", ".markdown")):
                if anchor not in anchors_of(resolved):
                    broken.append((path, line, target, f"no heading with anchor '{anchor}' in {resolved}"))
    return broken


def default_paths(root):
    paths = ["README.md"]
    for folder, dirs, files in os.walk(os.path.join(root, "docs")):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(".md"):
                paths.append(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/"))
    return paths


# --- self-test --------------------------------------------------------------------------------------

SELF_TEST = [
    # (name, files, broken targets expected from README.md)
    ("a good file link and anchor pass",
     {"README.md": "See [the page](docs/a.md#some-section) and [top](#title).\n# Title\n",
      "docs/a.md": "# A\n\n## Some section\n"}, []),
    ("a missing file fails",
     {"README.md": "See [gone](docs/missing.md).\n"}, ["docs/missing.md"]),
    ("a missing anchor in another file fails",
     {"README.md": "See [x](docs/a.md#nowhere).\n", "docs/a.md": "# A\n"}, ["docs/a.md#nowhere"]),
    ("a missing anchor in the same file fails",
     {"README.md": "# Title\n\nSee [x](#not-here).\n"}, ["#not-here"]),
    ("GitHub anchors: case, spaces, punctuation, code",
     {"README.md": "## Try it (only Rust needed)\n### Dead-letter queues: read, inspect, redrive\n"
                   "## The `MAX_EVENT_AGE` rule, 1.5 × faster!\n"
                   "[a](#try-it-only-rust-needed) [b](#dead-letter-queues-read-inspect-redrive)"
                   " [c](#the-max_event_age-rule-15--faster)\n"}, []),
    ("duplicate headings take -1, -2; a third suffix does not exist",
     {"README.md": "## Notes\n## Notes\n## Notes\n[a](#notes) [b](#notes-1) [c](#notes-2) [d](#notes-3)\n"},
     ["#notes-3"]),
    ("links inside fenced code and inline code are not links",
     {"README.md": "```md\n[x](missing.md)\n```\n~~~\n[y](gone.md)\n~~~\n`[z](nope.md)`\n"}, []),
    ("absolute links are not checked",
     {"README.md": "[a](https://example.com/x.md#y) [b](http://h/) [c](mailto:a@b.c) <https://x>\n"}, []),
    ("images: markdown and HTML, relative to the linking file",
     {"README.md": "![ok](docs/p.svg) <img src=\"docs/missing.png\">\n",
      "docs/p.svg": "<svg/>", "docs/a.md": "![up](../README.md) ![no](p2.svg)\n"}, ["docs/missing.png"]),
    ("a link whose text spans lines is found, on the line of its target",
     {"README.md": "Read [Ask for a\nquota increase](#ask-for-a-quota-increase).\n"},
     ["#ask-for-a-quota-increase"]),
    ("headings inside code blocks are not anchors",
     {"README.md": "```sh\n# terminal 1\n```\n[t](#terminal-1)\n"}, ["#terminal-1"]),
    ("a folder, a file with a query or a line anchor, and angle brackets resolve",
     {"README.md": "[d](src/) [f](src/main.rs#L10) [q](docs/a.md?plain=1) [s](<docs/a b.md#x>)\n",
      "src/main.rs": "", "docs/a.md": "", "docs/a b.md": "# X\n"}, []),
    ("reference definitions and explicit HTML anchors",
     {"README.md": "[x][r]\n\n[r]: docs/none.md\n<a name=\"here\"></a>\n[h](#here)\n"}, ["docs/none.md"]),
    ("setext headings are anchors",
     {"README.md": "Big title\n=========\n\n[t](#big-title)\n"}, []),
]


def self_test():
    failures = 0
    for name, files, expected in SELF_TEST:
        found = [target for (path, _line, target, _why) in check(InMemory(files), ["README.md"])]
        if sorted(found) != sorted(expected):
            failures += 1
            print(f"self-test FAILED: {name}: expected broken {expected}, found {found}")
    # line numbers: the report names the line the target is on
    report = check(InMemory({"README.md": "one\n\ntwo [x](gone.md)\n"}), ["README.md"])
    if [(p, line) for (p, line, _t, _w) in report] != [("README.md", 3)]:
        failures += 1
        print(f"self-test FAILED: line numbers: {report}")
    total = len(SELF_TEST) + 1
    print(f"link check self-test: {total - failures} passed, {failures} failed")
    return failures == 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return 0 if self_test() else 1
    repo = FileSystem(ROOT)
    paths = argv[1:] or default_paths(ROOT)
    paths = [os.path.relpath(os.path.abspath(p), ROOT).replace(os.sep, "/") for p in paths]
    missing = [p for p in paths if not repo.is_file(p)]
    for p in missing:
        print(f"{p}: no such file", file=sys.stderr)
    if missing:
        return 2
    broken = check(repo, paths)
    for path, line, target, why in broken:
        print(f"{path}:{line}: {target}  ({why})")
    if broken:
        print(f"{len(broken)} broken link(s) in {len(paths)} file(s)", file=sys.stderr)
        return 1
    print(f"links: {len(paths)} file(s), every relative link and anchor resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
