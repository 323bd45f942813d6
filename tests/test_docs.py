"""The docs stay true to the code.

Every relative link in README.md, docs/*.md and configs/**/README.md
resolves (the file exists; a ``#anchor`` into a markdown file names one of
its headings); every command in their code blocks (and in inline code that
starts with ``python tools/``, ``bash tools/`` or ``make``) names tools,
configs and files that exist, make targets of the Makefile and flags that
the tool's argparse parser accepts; model-index.yml imports every
metafile.yml and every metafile's configs exist. Placeholders (CONFIG,
``${WORK_DIR}``, ``<...>``, globs) are skipped. The checker is tested on a
bad markdown file, so that it can fail.
"""
import argparse
import functools
import glob
import importlib.util
import os.path as osp
import re
import shlex
import sys
from unittest import mock

import yaml

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..'))
# fenced blocks in these languages hold no shell commands
NON_SHELL = {'python', 'py', 'yaml', 'yml', 'json', 'bibtex', 'text'}
PLACEHOLDER = re.compile(r'[*?{}<>$…]|\.\.\.')
# shell scripts that hand their extra arguments to a python tool
SCRIPT_TOOLS = {'tools/dist_train.sh': 'tools/train.py',
                'tools/slurm_train.sh': 'tools/train.py',
                'tools/dist_test.sh': 'tools/test.py'}


def doc_files(root=REPO):
    files = ['README.md'] + sorted(glob.glob('docs/*.md', root_dir=root))
    files += sorted(glob.glob('configs/**/README.md', root_dir=root, recursive=True))
    return [osp.join(root, f) for f in files if osp.isfile(osp.join(root, f))]


def github_slug(heading):
    """The anchor GitHub gives a heading: lower case, inline markup and
    punctuation dropped, each space a hyphen."""
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', heading.strip()).lower()
    text = re.sub(r'[^\w\- ]', '', text.replace('`', ''))
    return text.replace(' ', '-')


def split_fences(text):
    """(prose lines with fenced blocks blanked, [(lang, first line number,
    block lines)])."""
    prose, blocks, block = [], [], None
    for num, line in enumerate(text.split('\n'), 1):
        fence = re.match(r'\s*(```+|~~~+)\s*([\w+-]*)', line)
        if block is None and fence:
            block = (fence.group(2).lower(), num + 1, [], fence.group(1))
            prose.append('')
        elif block is not None and line.strip().startswith(block[3]):
            blocks.append(block[:3])
            block = None
            prose.append('')
        elif block is not None:
            block[2].append(line)
            prose.append('')
        else:
            prose.append(line)
    return prose, blocks


@functools.lru_cache(maxsize=None)
def anchors(path):
    prose, _ = split_fences(open(path, encoding='utf-8').read())
    seen, out = {}, set()
    for line in prose:
        match = re.match(r'#{1,6}\s+(.*?)\s*#*\s*$', line)
        if match:
            slug = github_slug(match.group(1))
            count = seen.get(slug, 0)
            out.add(slug if count == 0 else f'{slug}-{count}')
            seen[slug] = count + 1
    return out


def check_links(path, root=REPO):
    problems = []
    prose, _ = split_fences(open(path, encoding='utf-8').read())
    rel = osp.relpath(path, root)
    for num, line in enumerate(prose, 1):
        line = re.sub(r'`[^`]*`', '', line)
        for match in re.finditer(r'\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)', line):
            target = match.group(1)
            if re.match(r'[a-z][a-z0-9+.-]*:', target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition('#')
            dest = osp.normpath(osp.join(osp.dirname(path), file_part)) if file_part else path
            if not osp.exists(dest):
                problems.append(f'{rel}:{num}: link {target}: {file_part} does not exist')
            elif anchor and dest.endswith('.md') and anchor not in anchors(dest):
                problems.append(f'{rel}:{num}: link {target}: no heading #{anchor} in '
                                f'{osp.relpath(dest, root)}')
    return problems


def commands(path):
    """[(line number, command)] from the shell code blocks (lines joined
    across trailing backslashes, comments dropped) and from inline code that
    starts with ``python tools/``, ``bash tools/`` or ``make ``."""
    text = open(path, encoding='utf-8').read()
    prose, blocks = split_fences(text)
    out = []
    for lang, first, lines in blocks:
        if lang in NON_SHELL:
            continue
        pending, start = '', None
        for offset, line in enumerate(lines):
            line = re.sub(r'(^|\s)#.*$', '', line).rstrip()
            if start is None:
                start = first + offset
            if line.endswith('\\'):
                pending += line[:-1] + ' '
                continue
            if (pending + line).strip():
                out.append((start, (pending + line).strip()))
            pending, start = '', None
    for num, line in enumerate(prose, 1):
        for span in re.findall(r'`([^`]+)`', line):
            if re.match(r'(python tools/|bash tools/|make [a-z])', span):
                out.append((num, span))
    return out


def segments(command):
    """The simple commands of a command line: split at ``&&``, ``||``, ``;``
    and into each ``$(...)``."""
    out, stack, buf, i = [], [], '', 0
    while i < len(command):
        two = command[i:i + 2]
        if two == '$(':
            stack.append(buf)
            buf, i = '', i + 2
            continue
        if command[i] == ')' and stack:
            out.append(buf)
            buf, i = stack.pop(), i + 1
            continue
        if two in ('&&', '||'):
            out.append(buf)
            buf, i = '', i + 2
            continue
        if command[i] == ';':
            out.append(buf)
            buf, i = '', i + 1
            continue
        buf += command[i]
        i += 1
    out.extend([buf] + stack)
    result = []
    for seg in out:
        try:
            tokens = shlex.split(seg)
        except ValueError:
            tokens = seg.split()
        while tokens and re.match(r'[A-Za-z_][A-Za-z0-9_]*=', tokens[0]):
            tokens.pop(0)  # VAR=value before the command
        if tokens:
            result.append(tokens)
    return result


@functools.lru_cache(maxsize=None)
def makefile_targets(root=REPO):
    text = open(osp.join(root, 'Makefile'), encoding='utf-8').read()
    return set(re.findall(r'^([A-Za-z0-9][\w.-]*)\s*:(?!=)', text, re.M))


class _Captured(Exception):

    def __init__(self, parsers):
        super().__init__('parser captured')
        self.parsers = parsers


def _option_strings(parser):
    opts = set(parser._option_string_actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                opts |= _option_strings(sub)
    return opts


@functools.lru_cache(maxsize=None)
def tool_options(path):
    """The option strings the tool's argparse parsers accept: the tool is
    imported (not run) and its ``parse_args`` (or ``main``) called with
    ``sys.argv`` empty; ``parse_args`` is replaced by a capture of the parser
    (and of any parser that ran ``parse_known_args`` before it, as a
    two-stage command line does). A tool without argument parsing accepts
    none."""
    src = open(path, encoding='utf-8').read()
    if not re.search(r'argv|parse_args|ArgumentParser', src):
        return frozenset()
    seen = []
    known = argparse.ArgumentParser.parse_known_args

    def capture(self, *args, **kwargs):
        raise _Captured(seen + [self])

    def record(self, *args, **kwargs):
        seen.append(self)
        return known(self, *args, **kwargs)

    name = '_docs_tool_' + re.sub(r'\W', '_', osp.relpath(path, REPO))
    saved_path, saved_argv = list(sys.path), list(sys.argv)
    try:
        with mock.patch.object(argparse.ArgumentParser, 'parse_args', capture), \
                mock.patch.object(argparse.ArgumentParser, 'parse_known_args', record):
            sys.argv = [path]
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            entry = getattr(module, 'parse_args', None) or getattr(module, 'main')
            try:
                entry()
            except TypeError:
                entry(None)
    except _Captured as captured:
        return frozenset().union(*map(_option_strings, captured.parsers))
    finally:
        sys.path[:] = saved_path
        sys.argv = saved_argv
    raise AssertionError(f'{path}: no argparse parser reached through parse_args/main')


def _path_like(token):
    return re.match(r'(configs|tools|docs|tests|\.ci)/', token) and not PLACEHOLDER.search(token)


def check_command(tokens, root=REPO):
    """Problems of one simple command (a list of shell tokens)."""
    problems = []
    prog = tokens[0]
    if prog == 'make':
        for tok in tokens[1:]:
            if tok.startswith('-') or '=' in tok or PLACEHOLDER.search(tok):
                continue
            if not re.match(r'[\w.-]+$', tok):
                break
            if tok not in makefile_targets(root):
                problems.append(f'make target {tok!r} is not in the Makefile')
        return problems
    if osp.basename(prog) in ('python', 'python3'):
        if len(tokens) < 2 or tokens[1].startswith('-'):
            return problems  # python -m / -c
        script, tool = tokens[1], tokens[1]
    elif prog == 'bash':
        if len(tokens) < 2 or tokens[1].startswith('-'):
            return problems
        script = tokens[1]
        tool = SCRIPT_TOOLS.get(script)
    else:
        return problems
    if PLACEHOLDER.search(script):
        return problems
    if not osp.exists(osp.join(root, script)):
        return [f'{script} does not exist']
    options = tool_options(osp.join(root, tool)) if tool and tool.endswith('.py') else None
    args = tokens[2:]
    for i, tok in enumerate(args):
        if tok == '|' and not (i + 1 < len(args) and args[i + 1].startswith('-')):
            break  # a pipe into another command
        tok = tok.strip('[]()\'"')
        if options is not None and tok.startswith('--'):
            flag = tok.split('=', 1)[0]
            if flag not in options:
                problems.append(f'{tool} does not accept {flag}')
            tok = tok.split('=', 1)[1] if '=' in tok else ''
        if _path_like(tok) and not osp.exists(osp.join(root, tok)):
            problems.append(f'{tok} does not exist')
    return problems


def check_docs(files, root=REPO):
    problems = []
    for path in files:
        problems += check_links(path, root)
        rel = osp.relpath(path, root)
        for num, command in commands(path):
            for tokens in segments(command):
                problems += [f'{rel}:{num}: {p} (in: {command})'
                             for p in check_command(tokens, root)]
    return problems


def test_github_slug():
    assert github_slug('Compatibility fixes (active on `import mmfsod`)') == \
        'compatibility-fixes-active-on-import-mmfsod'
    assert github_slug("AnchorNet + LSP at the paper's operating point (CPU)") == \
        'anchornet--lsp-at-the-papers-operating-point-cpu'
    assert github_slug('1. The data, in COCO format') == '1-the-data-in-coco-format'


def test_segments():
    cmd = ('Q=$(python tools/a.py --x \'b c\') && make demo; '
           'python tools/c.py (--y 1 | --z 2) | head')
    assert segments(cmd) == [['python', 'tools/a.py', '--x', 'b c'], ['make', 'demo'],
                             ['python', 'tools/c.py', '(--y', '1', '|', '--z', '2)', '|',
                              'head']]


def test_checker_finds_bad_links_and_commands(tmp_path):
    """The checker reports each kind of mistake, once, on a bad page, and
    nothing on the good lines next to them."""
    (tmp_path / 'other.md').write_text('# A heading\n')
    cfg = 'configs/gcn_fsod/toy/gcn-fsod_r18_c4_toy_base-training.py'
    page = tmp_path / 'bad.md'
    page.write_text(f"""# Page

Good: [other](other.md), [heading](other.md#a-heading), [here](#page),
[web](https://example.org/x.md), `[not a link](nowhere.md)`.
Bad: [gone](missing.md) and [anchor](other.md#no-such-heading).

```bash
python tools/train.py {cfg} --work-dir x --cfg-options a=1  # fine
python tools/train.py {cfg} --no-such-flag
python tools/train.py configs/gcn_fsod/no_such_config.py
python tools/no_such_tool.py CONFIG
make demo PYTEST_ARGS="-m slow"
make no-such-target
bash tools/dist_train.sh {cfg} 2 --bogus-flag
python tools/test.py CONFIG CKPT [--out results.pkl] [--show-dir vis]
```

Inline: `python tools/misc/print_config.py {cfg} --build-model`, and
`python tools/misc/print_config.py {cfg} --build-modle`.
""")
    problems = check_docs([str(page)], REPO)
    expected = ['link missing.md: missing.md does not exist',
                'link other.md#no-such-heading: no heading #no-such-heading',
                'tools/train.py does not accept --no-such-flag',
                'configs/gcn_fsod/no_such_config.py does not exist',
                'tools/no_such_tool.py does not exist',
                "make target 'no-such-target' is not in the Makefile",
                'tools/train.py does not accept --bogus-flag',
                'tools/misc/print_config.py does not accept --build-modle']
    assert len(problems) == len(expected), '\n'.join(problems)
    for want, got in zip(expected, problems):
        assert want in got, (want, got)
    assert problems[2].startswith(osp.relpath(str(page), REPO) + ':9: ')


def test_docs_links_and_commands():
    files = doc_files()
    assert len(files) >= 10, files  # README, docs/*.md, configs/*/README.md
    problems = check_docs(files)
    assert not problems, '\n'.join(problems)


def test_model_index():
    index = yaml.safe_load(open(osp.join(REPO, 'model-index.yml')))
    imports = index['Import']
    found = sorted(glob.glob('configs/**/metafile.yml', root_dir=REPO, recursive=True))
    assert sorted(imports) == found, 'model-index.yml must import every metafile.yml'
    names = set()
    for meta_path in imports:
        meta = yaml.safe_load(open(osp.join(REPO, meta_path)))
        collections = {c['Name'] for c in meta['Collections']}
        for collection in meta['Collections']:
            readme = collection.get('README')
            assert readme is None or osp.isfile(osp.join(REPO, readme)), (meta_path, readme)
        assert meta['Models'], meta_path
        for model in meta['Models']:
            where = f"{meta_path}: {model.get('Name')}"
            assert model['Name'] not in names, f'{where}: name used twice'
            names.add(model['Name'])
            assert model['In Collection'] in collections, where
            assert osp.isfile(osp.join(REPO, model['Config'])), f"{where}: {model['Config']}"
            assert model['Results'], where
            for result in model['Results']:
                assert result['Task'] and result['Dataset'] and result['Metrics'], where
            # no invented downloads: weights, where given, are a URL
            weights = model.get('Weights')
            assert weights is None or re.match(r'https?://', weights), where
