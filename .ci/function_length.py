#!/usr/bin/python3
"""Function-length check for the C++/CUDA sources (standard library only).

Scans host/**/*.cpp, host/**/*.hpp, kernels/*.cu, kernels/*.cuh and kernels/*.hpp (or the files
given on the command line), finds every function or method defined at namespace or class scope
and measures its body: the lines from the one holding the opening brace to the one holding the
closing brace, both included. Lambdas and local classes count towards the function that holds
them; a lambda assigned at namespace or class scope is not a function.

    .ci/function_length.py             functions longer than 150 lines; exit status 1 if any
    .ci/function_length.py --max 80    ... longer than 80 lines
    .ci/function_length.py --top 10    the 10 longest functions, whatever their length (exit 0)
    .ci/function_length.py FILE...     only these files

Output lines are `path:line: name: N lines`, longest first; `line` is the line of the name.
The parser matches braces after blanking comments, string and character literals (raw strings
included) and preprocessor lines; it is not a C++ front end, but it needs none for this code.
"""

import argparse
import os
import re
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_GLOBS = [
    "host/**/*.cpp",
    "host/**/*.hpp",
    "kernels/*.cu",
    "kernels/*.cuh",
    "kernels/*.hpp",
]

IDENT = re.compile(r"[A-Za-z_]\w*")


def blank(text):
    """`text` with comments, string/char literals and preprocessor lines replaced by spaces
    (newlines kept), so that offsets and line numbers still match the original."""
    out = list(text)
    n = len(text)
    i = 0
    line_start = True  # only whitespace so far on this line

    def wipe(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if c == "\n":
            line_start = True
            i += 1
            continue
        if line_start and c == "#":
            # a preprocessor directive, with its backslash continuations
            j = i
            while j < n:
                if text[j] == "\n" and text[j - 1] != "\\":
                    break
                j += 1
            wipe(i, j)
            i = j
            continue
        if not c.isspace():
            line_start = False
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            wipe(i, j)
            i = j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            wipe(i, j)
            i = j
            continue
        if c == '"':
            # raw string R"delim( ... )delim" (prefixes R, LR, uR, UR, u8R)
            m = re.search(r"(?:\b|^)(?:u8|u|U|L)?R$", text[max(0, i - 3) : i])
            if m:
                k = text.find("(", i)
                delim = text[i + 1 : k]
                end = text.find(")" + delim + '"', k)
                j = n if end < 0 else end + len(delim) + 2
                wipe(i, j)
                i = j
                continue
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            wipe(i + 1, min(j, n))
            i = j + 1
            continue
        if c == "'":
            # a digit separator (1'000'000) or a character literal
            k = i - 1
            while k >= 0 and (text[k].isalnum() or text[k] in "_.'"):
                k -= 1
            if k + 1 < i and text[k + 1].isdigit():
                i += 1
                continue
            j = i + 1
            while j < n and text[j] not in "'\n":
                j += 2 if text[j] == "\\" else 1
            wipe(i + 1, min(j, n))
            i = j + 1
            continue
        i += 1
    return "".join(out)


def matching_close(s, i):
    """Index of the brace closing the one at s[i] (len(s) when unbalanced)."""
    depth = 0
    for k in range(i, len(s)):
        if s[k] == "{":
            depth += 1
        elif s[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    return len(s)


def collapse(head, open_ch, close_ch, repl):
    """Replace every outermost balanced open_ch...close_ch group in `head` by `repl`."""
    out, depth = [], 0
    for c in head:
        if c == open_ch:
            if depth == 0:
                out.append(repl)
            depth += 1
        elif c == close_ch and depth:
            depth -= 1
        elif depth == 0:
            out.append(c)
    return "".join(out)


def open_paren_of(head, close):
    """Index of the '(' matching the ')' at head[close], or -1."""
    depth = 0
    for k in range(close, -1, -1):
        if head[k] == ")":
            depth += 1
        elif head[k] == "(":
            depth -= 1
            if depth == 0:
                return k
    return -1


QUALIFIER_END = re.compile(
    r"(?:\b(?:const|volatile|override|final|mutable|noexcept|try|__device__|__host__)|&&|&)\s*$"
)
ACCESS = re.compile(r"\b(?:public|private|protected)\s*:(?!:)")
NAME_END = re.compile(
    r"((?:~\s*)?(?:operator\s*(?:\(\s*\)|\[\s*\]|new\s*\[\s*\]|delete\s*\[\s*\]|\"\"\s*\w+|"
    r"[\w:<>*&\s]+?|[^\s\w(]+)|[A-Za-z_]\w*))\s*$"
)
KEYWORDS = {
    "if", "for", "while", "switch", "return", "sizeof", "decltype", "alignas", "alignof",
    "noexcept", "throw", "catch", "static_assert", "__attribute__", "__launch_bounds__",
    "__declspec", "defined",
}


def strip_qualifiers(head):
    """Remove cv/ref/noexcept/override/... and a trailing return type from the end of `head`."""
    # trailing return type: the last '->' at parenthesis depth 0
    depth, arrow = 0, -1
    for k, c in enumerate(head):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0 and head.startswith("->", k):
            arrow = k
    if arrow >= 0:
        head = head[:arrow]
    while True:
        h = head.rstrip()
        m = QUALIFIER_END.search(h)
        if m:
            head = h[: m.start()]
            continue
        if h.endswith(")"):
            o = open_paren_of(h, len(h) - 1)
            before = h[:o].rstrip() if o >= 0 else ""
            if re.search(r"\b(?:noexcept|throw|__attribute__|__launch_bounds__)$", before):
                head = before[: before.rfind(re.findall(r"\w+$", before)[0])]
                continue
        return h


def function_name(head):
    """(name, offset of the name in head) when `head` (text before a '{' at namespace or class
    scope) declares a function, else None."""
    h = ACCESS.sub(lambda m: " " * len(m.group(0)), head)
    h = collapse(h, "{", "}", "{}")  # braced initialisers of a constructor's member list
    # a constructor's member initialiser list, `X::X(int a) : a_(a), b_{a}`, starts at the first
    # single ':' at parenthesis depth 0 that follows the parameter list
    depth, colon = 0, -1
    for k, c in enumerate(h):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif (depth == 0 and c == ":" and h[k - 1 : k] != ":" and h[k + 1 : k + 2] != ":"
              and strip_qualifiers(h[:k]).endswith(")")):
            colon = k
            break
    if colon >= 0:
        # a '{' right after a member's name opens its initialiser, not the body
        if not h.rstrip().endswith((")", "}")):
            return None
        decl = strip_qualifiers(h[:colon])
    else:
        decl = strip_qualifiers(h)
    if not decl.endswith(")"):
        return None
    o = open_paren_of(decl, len(decl) - 1)
    if o <= 0:
        return None
    m = NAME_END.search(decl[:o])
    if not m:
        return None
    name = re.sub(r"\s+", " ", m.group(1)).strip()
    last = re.findall(r"\w+", name)
    if not last or (last[-1] in KEYWORDS and "operator" not in name):
        return None
    # qualified names: pull in `ns::cls<T>::` before the last component
    start = m.start(1)
    q = re.search(r"((?:[A-Za-z_]\w*\s*(?:<[^<>;{}]*>)?\s*::\s*)+)$", decl[:start])
    if q:
        start = q.start(1)
        name = re.sub(r"\s+", "", q.group(1)) + name
    return name, start


def scope_kind(head):
    """'namespace', 'class' (class, struct, union, enum) or 'other' for a non-function brace."""
    h = head.strip()
    if re.search(r"(?:^|[\s;])(?:inline\s+)?namespace\b", h) or re.fullmatch(r'extern\s*"\s*"', h):
        return "namespace"
    m = re.search(r"\b(class|struct|union|enum)\b(?:\s+class\b|\s+struct\b)?\s*"
                  r"(?:(?:alignas|__attribute__|__declspec)\s*\([^()]*(?:\([^()]*\)[^()]*)*\)\s*)*"
                  r"((?:[A-Za-z_]\w*\s*::\s*)*[A-Za-z_]\w*)?", h)
    if m and "=" not in h[: m.start()] and "(" not in h[: m.start()]:
        return "class", re.sub(r"\s+", "", m.group(2) or "")
    return "other"


def functions(path):
    """[(line of name, qualified name, body lines)] for the functions defined in `path`."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    s = blank(text)
    line_at = [0] * (len(s) + 1)
    ln = 1
    for k, c in enumerate(s):
        line_at[k] = ln
        if c == "\n":
            ln += 1
    line_at[len(s)] = ln
    found = []

    def scan(a, b, classes):
        """Scan s[a:b], a namespace or class body."""
        head_start = a
        i = a
        while i < b:
            c = s[i]
            if c == ";":
                head_start = i + 1
            elif c == "}":
                head_start = i + 1  # stray (unbalanced): start afresh
            elif c == "{":
                close = matching_close(s, i)
                head = s[head_start:i]
                fn = function_name(head)
                if fn:
                    name, off = fn
                    pos = head_start + off
                    while pos < i and s[pos].isspace():
                        pos += 1
                    qual = "::".join(classes + [name]) if classes else name
                    found.append((line_at[pos], qual, line_at[min(close, len(s))] - line_at[i] + 1))
                    i = close + 1
                    head_start = i
                    continue
                kind = scope_kind(head)
                if kind == "namespace":
                    scan(i + 1, close, classes)
                    i = close + 1
                    head_start = i
                    continue
                if kind != "other":
                    scan(i + 1, close, classes + [kind[1] or "<anonymous>"])
                    i = close + 1
                    head_start = i  # `} name;` after a class ends at its ';'
                    continue
                # an initialiser or a lambda: part of the current declaration, which goes on
                i = close + 1
                continue
            i += 1

    scan(0, len(s), [])
    return found


def main(argv):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends the listing quietly
    p = argparse.ArgumentParser(
        description="Report functions whose bodies are longer than a limit.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit status: 1 when a function is longer than --max (0 with --top).",
    )
    p.add_argument("files", nargs="*", help="files to scan (default: " + ", ".join(DEFAULT_GLOBS) + ")")
    p.add_argument("--max", type=int, default=150, metavar="N",
                   help="longest body allowed, in lines (default 150)")
    p.add_argument("--top", type=int, metavar="K",
                   help="list the K longest functions instead of checking the limit")
    a = p.parse_args(argv)

    if a.files:
        paths = [Path(f) for f in a.files]
    else:
        paths = sorted({f for g in DEFAULT_GLOBS for f in ROOT.glob(g) if f.is_file()})
    everything = []
    for path in paths:
        try:
            shown = path.resolve().relative_to(ROOT)
        except ValueError:
            shown = path
        for line, name, length in functions(path):
            everything.append((length, str(shown), line, name))
    everything.sort(key=lambda x: (-x[0], x[1], x[2]))

    if a.top is not None:
        for length, f, line, name in everything[: a.top]:
            print(f"{f}:{line}: {name}: {length} lines")
        return 0
    over = [x for x in everything if x[0] > a.max]
    for length, f, line, name in over:
        print(f"{f}:{line}: {name}: {length} lines (limit {a.max})")
    if over:
        print(f"{len(over)} function(s) longer than {a.max} lines", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
