"""Target code must run on AL2's Python 3.7: a check that needs no 3.7 interpreter (unit.sh also compiles with a
real 3.7 where one exists). Parses every plugin file with the 3.7 grammar and rejects stdlib APIs newer than 3.7."""
import ast
import pathlib
import re
import sys

NEWER_APIS = re.compile(r"\.removeprefix\(|\.removesuffix\(|functools\.cache\b|math\.prod\(|shlex\.join\(|"
                        r"\bzoneinfo\b|\bgraphlib\b|asyncio\.to_thread|str\.isascii")
failures = []
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.py")):
    source = path.read_text()
    try:
        ast.parse(source, filename=str(path), feature_version=(3, 7))
    except SyntaxError as exc:
        failures.append(f"{path}:{exc.lineno}: not Python 3.7 syntax: {exc.msg}")
    for number, line in enumerate(source.splitlines(), 1):
        if NEWER_APIS.search(line):
            failures.append(f"{path}:{number}: API newer than Python 3.7: {line.strip()}")
print("\n".join(failures) or f"3.7 grammar and stdlib APIs: OK ({sys.argv[1]})")
sys.exit(1 if failures else 0)
