#!/usr/bin/env python3
"""Generate libkhang's built-in kernel structure layouts.

Reads the kernel layouts in the shared data folder (Volatility 3 ISF files:
x64 kernels with PDB GUIDs and public symbols, x86 kernels converted from
Volatility 2 profiles, and the partial Windows 11 23H2/24H2 notes) and the
project's own lists:

  tools/layout_fields.txt    the structure fields the library reads
  tools/kernel_globals.txt   kernel variables whose RVA is kept per GUID
  tools/kernel_functions.txt kernel functions whose RVA/size is kept per GUID

and writes two C sources that are committed to the repository:

  lib/layout/fields.h        the ids (structs, fields, enums, globals, functions)
  lib/layout/builtin_data.c  the tables (deduplicated) and their indexes

Only facts are emitted (offsets, sizes, bit positions, enum value names,
symbol RVAs). The output depends only on the inputs: everything is sorted and
no time stamps are written, so running the generator twice on the same data
gives byte-identical files.

Usage: tools/gen_layouts.py [--shared DIR] [--out DIR] [--quiet]
Standard library only (json, lzma).
"""

import argparse
import json
import lzma
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

ARCH_X86 = 'x86'
ARCH_X64 = 'x64'
MACHINE = {0x8664: ARCH_X64, 0x14C: ARCH_X86}
ARCH_C = {ARCH_X86: 'KHANG_ARCH_X86', ARCH_X64: 'KHANG_ARCH_X64'}

# field kinds (must match KH_FK_* in lib/layout/layout.h)
FK_ABSENT, FK_INT, FK_POINTER, FK_STRUCT, FK_ARRAY, FK_BITFIELD, FK_ENUM = range(7)

# layout sources (must match kh_layout_source in lib/layout/layout.h)
SRC_GUID, SRC_BUILD, SRC_PARTIAL = 1, 2, 3
SRC_C = {SRC_GUID: 'KH_LAYOUT_BUILTIN_GUID', SRC_BUILD: 'KH_LAYOUT_BUILTIN_BUILD',
         SRC_PARTIAL: 'KH_LAYOUT_BUILTIN_PARTIAL'}

FN_ID_BITS = 10
FN_SIZE_BITS = 32 - FN_ID_BITS

# JPCERTCC's README lists the 1909 kernels as "10.0.18326.x"; the PDBs are
# 18362 kernels (1903 and 1909 share them).
VERSION_FIXES = {18326: 18362}


def die(msg):
    sys.stderr.write('gen_layouts: error: %s\n' % msg)
    sys.exit(1)


def c_ident_ok(s):
    return re.match(r'^[A-Za-z_][A-Za-z0-9_]*$', s) is not None


# ---------------------------------------------------------------------------
# input lists


class Field:
    def __init__(self, sid, name, alts, const):
        self.sid = sid          # struct id (e.g. 'KTHREAD')
        self.name = name        # field name (e.g. 'State')
        self.alts = alts        # [(arch or None, path string)]
        self.const = const      # synthetic: {arch: (offset, size)}

    @property
    def cid(self):
        return 'KH_F_%s_%s' % (self.sid, self.name)

    @property
    def display(self):
        return '%s.%s' % (self.sid, self.name)

    def paths_text(self):
        return ' '.join((a + ':' if a else '') + p for a, p in self.alts)


class Struct:
    def __init__(self, sid, isf_names, synthetic):
        self.sid = sid
        self.isf_names = isf_names
        self.synthetic = synthetic
        self.fields = []
        self.const_size = {}


PATH_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])?(\.[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])?)*$')


def parse_spec(path):
    structs = []
    enums = []
    cur = None
    seen_fields = set()
    with open(path, encoding='utf-8') as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.split('#', 1)[0].strip()
            if not line:
                continue
            where = '%s:%d' % (os.path.basename(path), lineno)
            if line.startswith('@enum'):
                parts = line.split()
                if len(parts) != 3 or not c_ident_ok(parts[1]):
                    die('%s: bad @enum line' % where)
                enums.append((parts[1], parts[2]))
                continue
            m = re.match(r'^\[([A-Z0-9_]+)\]\s+(\S+)$', line)
            if m:
                sid, names = m.group(1), m.group(2)
                if any(s.sid == sid for s in structs):
                    die('%s: struct %s declared twice' % (where, sid))
                if names == '!synthetic':
                    cur = Struct(sid, [], True)
                else:
                    cur = Struct(sid, names.split('|'), False)
                structs.append(cur)
                continue
            if cur is None:
                die('%s: field outside a struct' % where)
            parts = line.split()
            name = parts[0]
            if cur.synthetic:
                consts = {}
                for p in parts[1:]:
                    bits = p.split(':')
                    if bits[0] not in (ARCH_X86, ARCH_X64):
                        die('%s: synthetic values need an arch prefix' % where)
                    if name == '=size':
                        if len(bits) != 2:
                            die('%s: =size wants arch:size' % where)
                        cur.const_size[bits[0]] = int(bits[1], 0)
                    else:
                        if len(bits) != 3:
                            die('%s: synthetic field wants arch:offset:size' % where)
                        consts[bits[0]] = (int(bits[1], 0), int(bits[2], 0))
                if name == '=size':
                    continue
                if not c_ident_ok(name):
                    die('%s: bad field name %r' % (where, name))
                fld = Field(cur.sid, name, [], consts)
            else:
                if not c_ident_ok(name):
                    die('%s: bad field name %r' % (where, name))
                alts = []
                for p in (parts[1:] or [name]):
                    arch = None
                    if ':' in p:
                        arch, p = p.split(':', 1)
                        if arch not in (ARCH_X86, ARCH_X64):
                            die('%s: bad arch prefix %r' % (where, arch))
                    if not PATH_RE.match(p):
                        die('%s: bad path %r' % (where, p))
                    alts.append((arch, p))
                fld = Field(cur.sid, name, alts, None)
            if fld.cid in seen_fields:
                die('%s: field %s declared twice' % (where, fld.display))
            seen_fields.add(fld.cid)
            cur.fields.append(fld)
    for s in structs:
        if s.synthetic:
            for fld in s.fields:
                for arch, (off, size) in fld.const.items():
                    if off + size > s.const_size.get(arch, 0):
                        die('synthetic field %s beyond its struct size' % fld.display)
    return structs, enums


def parse_name_list(path):
    names = []
    seen = set()
    with open(path, encoding='utf-8') as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.split('#', 1)[0].strip()
            if not line:
                continue
            if not c_ident_ok(line):
                die('%s:%d: bad name %r' % (os.path.basename(path), lineno, line))
            if line in seen:
                die('%s:%d: %s listed twice' % (os.path.basename(path), lineno, line))
            seen.add(line)
            names.append(line)
    return sorted(names)


# ---------------------------------------------------------------------------
# ISF access


class Isf:
    """One parsed ISF document with the helpers the resolver needs."""

    def __init__(self, doc, origin):
        self.doc = doc
        self.origin = origin
        self.user = doc.get('user_types', {})
        self.base = doc.get('base_types', {})
        self.enums = doc.get('enums', {})
        meta = doc.get('metadata', {}).get('windows', {})
        pdb = meta.get('pdb', {})
        mt = pdb.get('machine_type')
        ptr = self.base.get('pointer', {}).get('size')
        if mt in MACHINE:
            self.arch = MACHINE[mt]
        elif ptr == 8:
            self.arch = ARCH_X64
        elif ptr == 4:
            self.arch = ARCH_X86
        else:
            die('%s: cannot tell the architecture' % origin)
        self.ptr_size = ptr or (8 if self.arch == ARCH_X64 else 4)
        self.guid = str(pdb.get('GUID', '')).upper()
        self.age = int(pdb.get('age', 0))
        self.database = pdb.get('database', '')
        self.pe = meta.get('pe', {})

    def type_size(self, t):
        k = t.get('kind')
        if k == 'base':
            b = self.base.get(t.get('name'))
            return None if b is None else b['size']
        if k == 'pointer':
            if t.get('base') == 'pointer64':
                return 8
            return self.ptr_size
        if k in ('struct', 'union', 'class'):
            u = self.user.get(t.get('name'))
            return None if u is None else u['size']
        if k == 'enum':
            e = self.enums.get(t.get('name'))
            return None if e is None else e['size']
        if k == 'array':
            es = self.type_size(t['subtype'])
            return None if es is None else es * t['count']
        if k == 'bitfield':
            return self.type_size(t['type'])
        return None

    def final_type_name(self, struct, path):
        """Name of the struct/union type at the end of a path, or None."""
        u = self.user.get(struct)
        t = None
        for comp in path.split('.'):
            name = re.sub(r'\[\d+\]$', '', comp)
            if t is not None:
                u = self.user.get(t.get('name'))
            if u is None or name not in u['fields']:
                return None
            t = u['fields'][name]['type']
            if comp != name:
                t = t.get('subtype', {})
        return t.get('name') if t and t.get('kind') in ('struct', 'union', 'class') else None

    def struct_name(self, names):
        for n in names:
            if n in self.user:
                return n
        return None

    def resolve(self, struct, path):
        """(offset, size, kind, bit_pos, bit_len) or None."""
        u = self.user.get(struct)
        if u is None:
            return None
        off = 0
        t = None
        comps = path.split('.')
        for i, comp in enumerate(comps):
            m = re.match(r'^([A-Za-z_][A-Za-z0-9_]*)(?:\[([0-9]+)\])?$', comp)
            name, idx = m.group(1), m.group(2)
            if t is not None:
                if t.get('kind') not in ('struct', 'union', 'class'):
                    return None
                u = self.user.get(t.get('name'))
                if u is None:
                    return None
            f = u['fields'].get(name)
            if f is None:
                return None
            off += f['offset']
            t = f['type']
            if idx is not None:
                if t.get('kind') != 'array' or int(idx) >= t['count']:
                    return None
                es = self.type_size(t['subtype'])
                if es is None:
                    return None
                off += int(idx) * es
                t = t['subtype']
        size = self.type_size(t)
        if size is None:
            return None
        k = t.get('kind')
        if k == 'bitfield':
            return (off, size, FK_BITFIELD, t['bit_position'], t['bit_length'])
        kind = {'base': FK_INT, 'pointer': FK_POINTER, 'struct': FK_STRUCT,
                'union': FK_STRUCT, 'class': FK_STRUCT, 'array': FK_ARRAY,
                'enum': FK_ENUM}.get(k)
        if kind is None:
            return None
        return (off, size, kind, 0, 0)


class Kernel:
    """One layout to emit."""

    def __init__(self):
        self.arch = None
        self.build = 0
        self.qfe = 0
        self.major = 0
        self.minor = 0
        self.pae = False
        self.guid = None        # 32 hex chars or None
        self.age = 0
        self.source = SRC_GUID
        self.description = ''
        self.origin = ''
        self.fields = None      # list of tuples, one per field id
        self.sizes = None       # list of struct sizes
        self.enums = None       # list (per enum id) of [(value, name)]
        self.enum_borrowed = 0  # bit i set: enum i borrowed from another build
        self.globals = None     # list of RVAs (0 = absent)
        self.functions = None   # list of (rva, fn index, size)


def load_json_xz(path):
    with lzma.open(path, 'rb') as f:
        return json.load(f)


def resolve_kernel(isf, structs, kern, all_fields):
    fields = []
    for s in structs:
        name = None if s.synthetic else isf.struct_name(s.isf_names)
        for fld in s.fields:
            val = None
            if s.synthetic:
                c = fld.const.get(isf.arch)
                if c is not None:
                    val = (c[0], c[1], FK_INT, 0, 0)
            elif name is not None:
                for arch, path in fld.alts:
                    if arch is not None and arch != isf.arch:
                        continue
                    val = isf.resolve(name, path)
                    if val is not None:
                        break
            fields.append(val)
    sizes = []
    for s in structs:
        if s.synthetic:
            sizes.append(s.const_size.get(isf.arch, 0))
        else:
            name = isf.struct_name(s.isf_names)
            sizes.append(isf.user[name]['size'] if name else 0)
    # every present field lies inside its struct
    idx = 0
    for si, s in enumerate(structs):
        for fld in s.fields:
            v = fields[idx]
            if v is not None and v[0] + v[1] > sizes[si]:
                die('%s: %s at 0x%x size 0x%x beyond struct size 0x%x'
                    % (isf.origin, fld.display, v[0], v[1], sizes[si]))
            idx += 1
    assert idx == len(all_fields)
    kern.fields = fields
    kern.sizes = sizes


def enum_pairs(isf_enum):
    pairs = []
    for name, value in isf_enum.get('constants', {}).items():
        pairs.append((int(value), name))
    # one name per value: prefer names that are not range markers
    pairs.sort(key=lambda p: (p[0], p[1].startswith('Maximum'), p[1]))
    out = []
    for v, n in pairs:
        if out and out[-1][0] == v:
            continue
        out.append((v, n))
    return out


def read_jpcert_versions(readme):
    vers = {}
    with open(readme, encoding='utf-8') as f:
        for line in f:
            cols = [c.strip() for c in line.split('|')]
            if len(cols) < 4 or not re.match(r'^\d+\.\d+\.\d+\.\d+$', cols[1]):
                continue
            vers[cols[2].upper()] = cols[1]
    return vers


def display_name(name, sym):
    """The name a debugger shows for an ISF symbol.

    Volatility strips one leading underscore from some PDB names and keeps the
    original as linkage_name; for names that still start with an underscore
    (compiler helpers such as __C_specific_handler) the original is what
    debuggers print. The run-time ISF loader applies the same rule."""
    link = sym.get('linkage_name') if isinstance(sym, dict) else None
    if isinstance(link, str) and name.startswith('_') and link == '_' + name:
        return link
    return name


def symbol_functions(isf, fn_names, glob_names):
    raw = isf.doc.get('symbols', {}) or {}
    syms = {}
    for n in sorted(raw):
        syms.setdefault(display_name(n, raw[n]), raw[n])
    addrs = sorted(set(int(v['address']) for v in syms.values()
                       if isinstance(v, dict) and int(v.get('address', 0)) > 0))

    def next_addr(a):
        lo, hi = 0, len(addrs)
        while lo < hi:
            mid = (lo + hi) // 2
            if addrs[mid] <= a:
                lo = mid + 1
            else:
                hi = mid
        return addrs[lo] if lo < len(addrs) else None

    gl = []
    for g in glob_names:
        v = syms.get(g)
        a = int(v['address']) if v else 0
        if a < 0 or a > 0xFFFFFFFF:
            die('%s: %s RVA out of range' % (isf.origin, g))
        gl.append(a)
    fns = []
    for i, n in enumerate(fn_names):
        v = syms.get(n)
        if not v:
            continue
        a = int(v['address'])
        if a <= 0 or a > 0xFFFFFFFF:
            continue
        nx = next_addr(a)
        size = 0 if nx is None else nx - a
        if size >= (1 << FN_SIZE_BITS):
            size = (1 << FN_SIZE_BITS) - 1
        fns.append((a, i, size))
    fns.sort()
    return gl, fns


# ---------------------------------------------------------------------------
# loading all kernels


def load_x64(shared, structs, all_fields, enums, fn_names, glob_names, log):
    base = os.path.join(shared, 'layouts', 'isf')
    vers = read_jpcert_versions(os.path.join(base, 'README.JPCERTCC.md'))
    d = os.path.join(base, 'symbols', 'windows', 'ntkrnlmp.pdb')
    kernels = []
    for fn in sorted(os.listdir(d)):
        m = re.match(r'^([0-9A-Fa-f]{32})-([0-9]+)\.json\.xz$', fn)
        if not m:
            continue
        isf = Isf(load_json_xz(os.path.join(d, fn)), fn)
        guid, age = m.group(1).upper(), int(m.group(2))
        if isf.guid != guid or isf.age != age or isf.arch != ARCH_X64:
            die('%s: metadata GUID/age/arch disagree with the file name' % fn)
        ver = vers.get(guid + str(age))
        if ver is None:
            die('%s: not listed in README.JPCERTCC.md' % fn)
        major, minor, build, qfe = (int(x) for x in ver.split('.'))
        build = VERSION_FIXES.get(build, build)
        k = Kernel()
        k.arch = ARCH_X64
        k.major, k.minor, k.build, k.qfe = major, minor, build, qfe
        k.guid, k.age = guid, age
        k.source = SRC_GUID
        k.description = '%d.%d.%d.%d' % (major, minor, build, qfe)
        k.origin = 'ISF %s-%d' % (guid, age)
        resolve_kernel(isf, structs, k, all_fields)
        k.enums = [enum_pairs(isf.enums[n]) if n in isf.enums else None for _, n in enums]
        k.globals, k.functions = symbol_functions(isf, fn_names, glob_names)
        kernels.append(k)
        log('x64 %s-%d %s' % (guid, age, k.description))
    return kernels


def load_x86(shared, structs, all_fields, enums, log):
    d = os.path.join(shared, 'layouts', 'x86')
    kernels = []
    for fn in sorted(os.listdir(d)):
        if not fn.endswith('.json.xz'):
            continue
        isf = Isf(load_json_xz(os.path.join(d, fn)), fn)
        if isf.arch != ARCH_X86:
            die('%s: not an x86 layout' % fn)
        pe = isf.pe
        k = Kernel()
        k.arch = ARCH_X86
        k.major = int(pe.get('major', 0))
        k.minor = int(pe.get('minor', 0))
        k.build = int(pe.get('revision', 0))
        k.qfe = int(pe.get('build', 0))
        mmpte = isf.user.get('_MMPTE')
        if mmpte is None:
            die('%s: no _MMPTE, cannot tell PAE' % fn)
        k.pae = mmpte['size'] == 8
        k.source = SRC_BUILD
        k.description = '%d.%d.%d%s x86 %s' % (
            k.major, k.minor, k.build, ('.%d' % k.qfe) if k.qfe else '',
            'PAE' if k.pae else 'non-PAE')
        k.origin = 'Volatility 2 profile %s' % fn[:-len('.json.xz')]
        resolve_kernel(isf, structs, k, all_fields)
        k.enums = [enum_pairs(isf.enums[n]) if n in isf.enums else None for _, n in enums]
        k.globals = None
        k.functions = None
        kernels.append(k)
        log('x86 %s (%s)' % (k.description, fn))
    return kernels


def load_partial(shared, structs, all_fields, reference, log):
    """Windows 11 23H2/24H2 partial layouts from the hand-transcribed notes.

    Offsets come from the notes; a field's size and bit position come from
    the newest full x64 layout (sizes of these fields do not change between
    builds). A field whose path goes through a member (ApcState.Process) takes
    the member's offset from the notes and the remainder from the reference.
    Everything the notes do not cover is absent; struct sizes the notes do not
    give are lower bounds (the end of the last known field)."""
    path = os.path.join(shared, 'layouts', 'notes', 'ntdiff_x64_23H2_24H2_key_offsets.json')
    if not os.path.exists(path):
        return []
    with open(path, encoding='utf-8') as f:
        doc = json.load(f)
    spec_of = {}
    for key, build in (('Win11_2309_23H2_x64', 22631), ('Win11_2409_24H2_x64', 26100)):
        if key in doc:
            spec_of[key] = build
    kernels = []
    for key in sorted(spec_of, key=lambda k: spec_of[k]):
        build = spec_of[key]
        notes = doc[key]
        # struct name -> {member name: offset}, and explicit sizes
        members = {}
        sizes = {}
        for sname, entries in sorted(notes.items()):
            if not isinstance(entries, dict):
                continue
            mm = members.setdefault(sname, {})
            for k, v in sorted(entries.items()):
                off = int(v, 16)
                if k == 'size':
                    sizes[sname] = off
                    continue
                m = re.match(r'^Pcb\(_KPROCESS\) size$', k)
                if m:
                    sizes['_KPROCESS'] = off
                    mm['Pcb'] = 0
                    continue
                m = re.match(r'^([A-Za-z0-9_]+)\(bit(\d+) of ([A-Za-z0-9_]+)\)$', k)
                if m:
                    mm[m.group(1)] = off
                    mm[m.group(3)] = off
                    continue
                for alt in k.split('/'):
                    alt = re.sub(r'\[\d+\]$', '', alt)
                    if not c_ident_ok(alt):
                        die('%s: cannot read note key %r' % (key, k))
                    mm[alt] = off
        k = Kernel()
        k.arch = ARCH_X64
        k.major, k.minor, k.build, k.qfe = 10, 0, build, 0
        k.source = SRC_PARTIAL
        k.description = '10.0.%d x64 (partial: %s)' % (
            build, ', '.join(sorted(members)))
        k.origin = 'notes %s' % key
        fields = []
        struct_end = {}
        for s in structs:
            sname = None if s.synthetic else next((n for n in s.isf_names if n in members), None)
            for fld in s.fields:
                gi = len(fields)
                val = None
                if s.synthetic:
                    c = fld.const.get(ARCH_X64)
                    if c is not None:
                        val = (c[0], c[1], FK_INT, 0, 0)
                elif sname is not None and reference.fields[gi] is not None:
                    ref = reference.fields[gi]
                    ref_isf = reference.isf
                    rname = ref_isf.struct_name(s.isf_names)
                    for arch, p in fld.alts:
                        if arch not in (None, ARCH_X64):
                            continue
                        first = re.sub(r'\[\d+\]$', '', p.split('.')[0])
                        if first not in members[sname]:
                            continue
                        rfirst = ref_isf.resolve(rname, first)
                        rfull = ref_isf.resolve(rname, p)
                        if rfirst is None or rfull is None or rfull != ref:
                            continue
                        rel = ref[0] - rfirst[0]
                        val = (members[sname][first] + rel,) + ref[1:]
                        # an embedded struct whose size the notes give
                        # (24H2's EPROCESS.Pcb is a 0x1c8-byte KPROCESS)
                        tname = ref_isf.final_type_name(rname, p)
                        if val[2] == FK_STRUCT and tname in sizes:
                            val = (val[0], sizes[tname]) + val[2:]
                        break
                if val is not None:
                    struct_end[s.sid] = max(struct_end.get(s.sid, 0), val[0] + val[1])
                fields.append(val)
        k.fields = fields
        k.sizes = []
        for s in structs:
            if s.synthetic:
                k.sizes.append(s.const_size.get(ARCH_X64, 0))
                continue
            sname = next((n for n in s.isf_names if n in sizes), None)
            size = sizes[sname] if sname else 0
            end = struct_end.get(s.sid, 0)
            if end > size:
                size = (end + 15) & ~15
            k.sizes.append(size)
        k.enums = [None] * len(reference.enums)
        k.globals = None
        k.functions = None
        kernels.append(k)
        log('partial x64 %d: %d fields' % (build, sum(1 for v in fields if v is not None)))
    return kernels


def borrow_enums(kernels, x64_full):
    """Fill enums a layout lacks from the x64 layout of the nearest build."""
    have = [(o, list(o.enums)) for o in x64_full]   # before any borrowing
    for k in kernels:
        for ei in range(len(k.enums)):
            if k.enums[ei] is not None:
                continue
            best = None
            for o, oenums in have:
                if oenums[ei] is None:
                    continue
                key = (abs(o.build - k.build), o.build > k.build, -o.qfe)
                if best is None or key < best[0]:
                    best = (key, oenums[ei])
            if best is not None:
                k.enums[ei] = best[1]
                k.enum_borrowed |= 1 << ei


# ---------------------------------------------------------------------------
# emission


class Pool:
    def __init__(self):
        self.buf = []
        self.index = {}
        self.size = 0

    def add(self, s):
        if s in self.index:
            return self.index[s]
        off = self.size
        self.index[s] = off
        self.buf.append(s)
        self.size += len(s.encode('utf-8')) + 1
        return off


def c_string_lines(strings):
    out = []
    for s in strings:
        esc = s.replace('\\', '\\\\').replace('"', '\\"')
        out.append('\t"%s\\0"' % esc)
    return out


def wrap_numbers(nums, per_line, fmt):
    lines = []
    for i in range(0, len(nums), per_line):
        lines.append('\t' + ','.join(fmt % n for n in nums[i:i + per_line]) + ',')
    return lines


def guid_bytes(guid):
    return [int(guid[i:i + 2], 16) for i in range(0, 32, 2)]


def emit(out_dir, shared_rel, structs, all_fields, enums, glob_names, fn_names,
         kernels, by_build, aliases):
    if len(fn_names) >= (1 << FN_ID_BITS):
        die('too many functions for the packed table')
    hdr = []
    w = hdr.append
    w('/*')
    w(' * Generated by tools/gen_layouts.py from tools/layout_fields.txt,')
    w(' * tools/kernel_globals.txt and tools/kernel_functions.txt. Do not edit.')
    w(' *')
    w(' * Ids of the kernel structures, fields, enumerations, global variables and')
    w(' * functions that libkhang\'s layouts describe. The numbers may change when')
    w(' * the generator runs again: use the names.')
    w(' */')
    w('#ifndef KH_LAYOUT_FIELDS_H')
    w('#define KH_LAYOUT_FIELDS_H')
    w('')
    w('/** Structures (KH_S_<name>). */')
    w('typedef enum kh_struct_id {')
    for i, s in enumerate(structs):
        w('\tKH_S_%s = %d,' % (s.sid, i))
    w('\tKH_STRUCT_COUNT = %d' % len(structs))
    w('} kh_struct_id;')
    w('')
    w('/** Fields (KH_F_<struct>_<field>); see tools/layout_fields.txt for paths. */')
    w('typedef enum kh_field_id {')
    for i, fld in enumerate(all_fields):
        w('\t%s = %d,' % (fld.cid, i))
    w('\tKH_FIELD_COUNT = %d' % len(all_fields))
    w('} kh_field_id;')
    w('')
    w('/** Enumerations whose value names are kept per build (KH_E_<name>). */')
    w('typedef enum kh_enum_id {')
    for i, (eid, _) in enumerate(enums):
        w('\tKH_E_%s = %d,' % (eid, i))
    w('\tKH_ENUM_COUNT = %d' % len(enums))
    w('} kh_enum_id;')
    w('')
    w('/** Kernel global variables (KH_G_<symbol>), sorted by name. */')
    w('typedef enum kh_global_id {')
    for i, g in enumerate(glob_names):
        w('\tKH_G_%s = %d,' % (g, i))
    w('\tKH_GLOBAL_COUNT = %d' % len(glob_names))
    w('} kh_global_id;')
    w('')
    w('/** Kernel functions (KH_FN_<symbol>), sorted by name. */')
    w('typedef enum kh_fn_id {')
    for i, n in enumerate(fn_names):
        w('\tKH_FN_%s = %d,' % (n, i))
    w('\tKH_FN_COUNT = %d' % len(fn_names))
    w('} kh_fn_id;')
    w('')
    w('#endif /* KH_LAYOUT_FIELDS_H */')

    pool = Pool()
    src = []
    w = src.append
    w('/*')
    w(' * Generated by tools/gen_layouts.py from the kernel layouts in')
    w(' * %s (Volatility 3 ISF files: x64 kernels from' % shared_rel)
    w(' * JPCERTCC/Windows-Symbol-Tables, x86 kernels converted from Volatility 2')
    w(' * profiles, partial Windows 11 23H2/24H2 notes) and the lists in tools/.')
    w(' * Do not edit: run the generator.')
    w(' *')
    w(' * %d layouts: %d by PDB GUID, %d by build (x64 %d, x86 %d, partial %d).' % (
        len(kernels) + len(by_build), len(kernels),
        len(by_build) + 0,
        sum(1 for k in by_build if k.arch == ARCH_X64 and k.source == SRC_BUILD),
        sum(1 for k in by_build if k.arch == ARCH_X86),
        sum(1 for k in by_build if k.source == SRC_PARTIAL)))
    w(' */')
    w('#include "layout_int.h"')
    w('')

    # spec tables (for the ISF loader and for names)
    struct_rows = []
    for s in structs:
        struct_rows.append((pool.add(s.sid), pool.add('|'.join(s.isf_names)), 1 if s.synthetic else 0))
    field_rows = []
    for fld in all_fields:
        si = next(i for i, s in enumerate(structs) if s.sid == fld.sid)
        field_rows.append((si, pool.add(fld.display), pool.add(fld.paths_text())))
    synth_rows = []
    for fi, fld in enumerate(all_fields):
        if fld.const:
            for arch in sorted(fld.const):
                off, size = fld.const[arch]
                synth_rows.append((fi, ARCH_C[arch], off, size))
    synth_size_rows = []
    for si, s in enumerate(structs):
        for arch in sorted(s.const_size):
            synth_size_rows.append((si, ARCH_C[arch], s.const_size[arch]))
    enum_rows = [(pool.add(eid), pool.add(n)) for eid, n in enums]
    glob_name_offs = [pool.add(g) for g in glob_names]
    fn_name_offs = [pool.add(n) for n in fn_names]

    # field tables, deduplicated per struct: a layout is the list of the
    # starts of its struct blocks in one shared array
    struct_first = []
    n = 0
    for s in structs:
        struct_first.append(n)
        n += len(s.fields)
    struct_first.append(n)
    blocks = []          # flat list of field tuples
    block_index = {}     # (struct index, tuple of values) -> start
    start_tables = []
    start_index = {}
    all_layouts = kernels + by_build
    for k in all_layouts:
        starts = []
        for si in range(len(structs)):
            key = (si, tuple(k.fields[struct_first[si]:struct_first[si + 1]]))
            if key not in block_index:
                block_index[key] = len(blocks)
                blocks.extend(key[1])
            starts.append(block_index[key])
        starts = tuple(starts)
        if starts not in start_index:
            start_index[starts] = len(start_tables)
            start_tables.append(starts)
        k.ftable = start_index[starts]
    stables = []
    sidx = {}
    for k in all_layouts:
        key = tuple(k.sizes)
        if key not in sidx:
            sidx[key] = len(stables)
            stables.append(key)
        k.stable = sidx[key]
    # enum entries: deduplicated per (enum, list)
    enum_lists = []
    eidx = {}
    for k in all_layouts:
        refs = []
        for ei in range(len(enums)):
            lst = k.enums[ei]
            if lst is None:
                refs.append((0, 0))
                continue
            key = tuple(lst)
            if key not in eidx:
                first = sum(len(x) for x in enum_lists)
                eidx[key] = (first, len(lst))
                enum_lists.append(key)
            refs.append(eidx[key])
        k.enum_refs = tuple(refs)
    eref_tables = []
    eridx = {}
    for k in all_layouts:
        if k.enum_refs not in eridx:
            eridx[k.enum_refs] = len(eref_tables)
            eref_tables.append(k.enum_refs)
        k.eref = eridx[k.enum_refs]

    # description strings
    for k in all_layouts:
        k.desc_off = pool.add(k.description)
        k.origin_off = pool.add(k.origin)
    enum_entries = []
    for lst in enum_lists:
        for v, n in lst:
            enum_entries.append((v, pool.add(n)))

    # ---- write
    w('/* ---- string pool ---- */')
    w('const char kh_lay_pool[%d] =' % (pool.size if pool.size else 1))
    src.extend(c_string_lines(pool.buf))
    src[-1] += ';'
    w('')
    w('/* ---- the field specification (tools/layout_fields.txt) ---- */')
    w('const kh_struct_spec kh_lay_struct_spec[KH_STRUCT_COUNT] = {')
    for name, isf, syn in struct_rows:
        w('\t{%d, %d, %d},' % (name, isf, syn))
    w('};')
    w('')
    w('const kh_field_spec kh_lay_field_spec[KH_FIELD_COUNT] = {')
    for si, name, paths in field_rows:
        w('\t{%d, %d, %d},' % (si, name, paths))
    w('};')
    w('')
    w('const kh_synthetic_field kh_lay_synthetic_fields[%d] = {' % max(1, len(synth_rows)))
    for fi, arch, off, size in synth_rows:
        w('\t{%d, %s, 0x%x, %d},' % (fi, arch, off, size))
    w('};')
    w('const size_t kh_lay_synthetic_field_count = %d;' % len(synth_rows))
    w('')
    w('const kh_synthetic_size kh_lay_synthetic_sizes[%d] = {' % max(1, len(synth_size_rows)))
    for si, arch, size in synth_size_rows:
        w('\t{%d, %s, 0x%x},' % (si, arch, size))
    w('};')
    w('const size_t kh_lay_synthetic_size_count = %d;' % len(synth_size_rows))
    w('')
    w('const kh_enum_spec kh_lay_enum_spec[KH_ENUM_COUNT] = {')
    for name, isf in enum_rows:
        w('\t{%d, %d},' % (name, isf))
    w('};')
    w('')
    w('const uint32_t kh_lay_global_names[KH_GLOBAL_COUNT] = {')
    src.extend(wrap_numbers(glob_name_offs, 12, '%d'))
    w('};')
    w('')
    w('const uint32_t kh_lay_function_names[KH_FN_COUNT] = {')
    src.extend(wrap_numbers(fn_name_offs, 12, '%d'))
    w('};')
    w('')
    w('/* first field id of each struct (fields are grouped by struct) */')
    w('const uint32_t kh_lay_struct_first[KH_STRUCT_COUNT + 1] = {')
    src.extend(wrap_numbers(struct_first, 12, '%d'))
    w('};')
    w('')
    w('/* ---- field blocks: {offset, size, kind, bit position, bit length} ---- */')
    w('static const kh_field field_blocks[%d] = {' % max(1, len(blocks)))
    line = ['{0}' if v is None else '{0x%x,%d,%d,%d,%d}' % v for v in blocks]
    for i in range(0, len(line), 6):
        w('\t' + ','.join(line[i:i + 6]) + ',')
    w('};')
    w('')
    w('/* per layout: the start of each struct block in field_blocks */')
    for ti, tab in enumerate(start_tables):
        w('static const uint32_t fs%d[KH_STRUCT_COUNT] = {' % ti)
        src.extend(wrap_numbers(list(tab), 12, '%d'))
        w('};')
    w('')
    w('/* ---- struct size tables ---- */')
    for ti, tab in enumerate(stables):
        w('static const uint32_t st%d[KH_STRUCT_COUNT] = {' % ti)
        src.extend(wrap_numbers(list(tab), 10, '0x%x'))
        w('};')
    w('')
    w('/* ---- enum value names: {value, name} sorted by value ---- */')
    w('static const kh_enum_entry enum_entries[%d] = {' % max(1, len(enum_entries)))
    ents = ['{%d,%d}' % e for e in enum_entries]
    for i in range(0, len(ents), 8):
        w('\t' + ','.join(ents[i:i + 8]) + ',')
    w('};')
    w('')
    w('/* per layout: {first entry, count} for each enum id */')
    for ti, refs in enumerate(eref_tables):
        w('static const kh_enum_ref er%d[KH_ENUM_COUNT] = {' % ti)
        w('\t' + ','.join('{%d,%d}' % r for r in refs) + ',')
        w('};')
    w('')

    # globals and functions of GUID layouts
    w('/* ---- global variable RVAs per GUID layout (0 = absent) ---- */')
    gl_layouts = [k for k in kernels if k.globals is not None]
    w('static const uint32_t globals_rva[%d][KH_GLOBAL_COUNT] = {' % max(1, len(gl_layouts)))
    for gi, k in enumerate(gl_layouts):
        k.glob_index = gi
        w('\t{ /* %s */' % k.description)
        src.extend(['\t' + x for x in wrap_numbers(k.globals, 8, '0x%x')])
        w('\t},')
    w('};')
    w('')
    w('/* ---- functions per GUID layout, sorted by RVA: RVA, and (id << %d | size) ---- */' % FN_SIZE_BITS)
    fn_rva = []
    fn_meta = []
    for k in kernels:
        if k.functions is None:
            continue
        k.fn_first = len(fn_rva)
        k.fn_count = len(k.functions)
        for rva, fi, size in k.functions:
            fn_rva.append(rva)
            fn_meta.append((fi << FN_SIZE_BITS) | size)
    w('static const uint32_t fn_rva[%d] = {' % max(1, len(fn_rva)))
    src.extend(wrap_numbers(fn_rva, 16, '%d'))
    w('};')
    w('static const uint32_t fn_meta[%d] = {' % max(1, len(fn_meta)))
    src.extend(wrap_numbers(fn_meta, 16, '%d'))
    w('};')
    w('')

    # layouts
    w('/* ---- the layouts: GUID layouts first (sorted by GUID, age), then by build ---- */')
    w('const kh_layout kh_builtin_layouts[KH_BUILTIN_LAYOUT_COUNT] = {')
    for k in all_layouts:
        gb = guid_bytes(k.guid) if k.guid else [0] * 16
        flags = []
        if k.pae:
            flags.append('KH_LAYOUT_F_PAE')
        if k.source == SRC_PARTIAL:
            flags.append('KH_LAYOUT_F_PARTIAL')
        if k.guid:
            flags.append('KH_LAYOUT_F_GUID')
        w('\t{')
        w('\t\t.magic = KH_LAYOUT_MAGIC, .arch = %s, .source = %s, .flags = %s,'
          % (ARCH_C[k.arch], SRC_C[k.source], ' | '.join(flags) if flags else '0'))
        w('\t\t.major = %d, .minor = %d, .build = %d, .qfe = %d, .age = %d,'
          % (k.major, k.minor, k.build, k.qfe, k.age))
        w('\t\t.guid = {%s},' % ','.join('0x%02x' % b for b in gb))
        w('\t\t.description = kh_lay_pool + %d, /* %s */' % (k.desc_off, k.description))
        w('\t\t.origin = kh_lay_pool + %d,' % k.origin_off)
        w('\t\t.field_base = field_blocks, .field_starts = fs%d, .struct_sizes = st%d,'
          % (k.ftable, k.stable))
        w('\t\t.enum_refs = er%d, .enum_entries = enum_entries, .enum_pool = kh_lay_pool,'
          ' .enum_borrowed = 0x%x,' % (k.eref, k.enum_borrowed))
        if k.globals is not None:
            w('\t\t.globals = globals_rva[%d],' % k.glob_index)
        if k.functions is not None:
            w('\t\t.fn_rva = fn_rva + %d, .fn_meta = fn_meta + %d, .fn_count = %d,'
              % (k.fn_first, k.fn_first, k.fn_count))
        w('\t},')
    w('};')
    w('')
    # GUID index: the GUID layouts are already sorted by GUID then age
    w('/* GUID layouts are kh_builtin_layouts[0 .. KH_BUILTIN_GUID_COUNT - 1], sorted by (GUID, age). */')
    w('')
    # build index
    rows = []
    for i, k in enumerate(by_build):
        rows.append((ARCH_C[k.arch], k.build, 1 if k.pae else 0, -k.qfe, len(kernels) + i))
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3], r[4]))
    w('/* build index: {arch, build, pae, layout}, sorted by arch, build, PAE, newest update first */')
    w('const kh_build_entry kh_builtin_builds[KH_BUILTIN_BUILD_COUNT] = {')
    for arch, build, pae, _, li in rows:
        w('\t{%s, %d, %d, %d},' % (arch, build, pae, li))
    w('};')
    w('')
    w('/* builds that run the kernel of another build: {arch, build, kernel build} */')
    w('const kh_build_alias kh_builtin_aliases[KH_BUILTIN_ALIAS_COUNT] = {')
    for arch, b, kb in aliases:
        w('\t{%s, %d, %d},' % (ARCH_C[arch], b, kb))
    w('};')

    counts = []
    counts.append('#define KH_BUILTIN_LAYOUT_COUNT %d' % len(all_layouts))
    counts.append('#define KH_BUILTIN_GUID_COUNT %d' % len(kernels))
    counts.append('#define KH_BUILTIN_BUILD_COUNT %d' % len(by_build))
    counts.append('#define KH_BUILTIN_ALIAS_COUNT %d' % len(aliases))
    hdr_text = '\n'.join(hdr) + '\n'
    hdr_text = hdr_text.replace('#endif /* KH_LAYOUT_FIELDS_H */',
                                '/* sizes of the built-in tables */\n' + '\n'.join(counts)
                                + '\n\n#endif /* KH_LAYOUT_FIELDS_H */')
    stats = {
        'field_tables': len(start_tables), 'field_entries': len(blocks), 'size_tables': len(stables),
        'enum_tables': len(eref_tables), 'guids': len(kernels),
        'by_build': len(by_build), 'functions': len(fn_rva),
        'pool': pool.size, 'fields': len(all_fields), 'structs': len(structs),
    }
    write_if_changed(os.path.join(out_dir, 'fields.h'), hdr_text)
    write_if_changed(os.path.join(out_dir, 'builtin_data.c'), '\n'.join(src) + '\n')
    return stats


def write_if_changed(path, text):
    data = text.encode('utf-8')
    try:
        with open(path, 'rb') as f:
            if f.read() == data:
                return
    except OSError:
        pass
    with open(path, 'wb') as f:
        f.write(data)


# ---------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--shared', default=os.path.join(REPO, '..', 'shared'),
                    help='the shared data folder (default: ../shared next to the repository)')
    ap.add_argument('--out', default=os.path.join(REPO, 'lib', 'layout'),
                    help='where to write fields.h and builtin_data.c')
    ap.add_argument('--quiet', action='store_true')
    ap.add_argument('--check', metavar='DIR',
                    help='generate into a temporary folder and compare with the files in DIR; '
                         'exit 0 if identical, 1 if not, 77 if the shared data is missing')
    ap.add_argument('--report', action='store_true',
                    help='print which fields each layout lacks')
    args = ap.parse_args()

    def log(msg):
        if not args.quiet:
            sys.stderr.write(msg + '\n')

    shared = os.path.normpath(args.shared)
    if not os.path.isdir(os.path.join(shared, 'layouts')):
        if args.check:
            sys.stderr.write('gen_layouts: skipped: %s has no layouts folder\n' % shared)
            sys.exit(77)
        die('%s has no layouts folder' % shared)
    if args.check:
        import filecmp
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            run(args, shared, tmp, log)
            bad = [n for n in ('fields.h', 'builtin_data.c')
                   if not os.path.exists(os.path.join(args.check, n))
                   or not filecmp.cmp(os.path.join(tmp, n), os.path.join(args.check, n), shallow=False)]
        if bad:
            sys.stderr.write('gen_layouts: %s differ from a fresh run: run tools/gen_layouts.py\n'
                             % ', '.join(bad))
            sys.exit(1)
        sys.stderr.write('gen_layouts: the committed tables are current\n')
        return
    run(args, shared, args.out, log)


def run(args, shared, out_dir, log):
    structs, enums = parse_spec(os.path.join(HERE, 'layout_fields.txt'))
    all_fields = [f for s in structs for f in s.fields]
    glob_names = parse_name_list(os.path.join(HERE, 'kernel_globals.txt'))
    fn_names = parse_name_list(os.path.join(HERE, 'kernel_functions.txt'))

    x64 = load_x64(shared, structs, all_fields, enums, fn_names, glob_names, log)
    x86 = load_x86(shared, structs, all_fields, enums, log)
    if not x64:
        die('no x64 layouts found')

    # partial 23H2/24H2 layouts borrow sizes from the newest full x64 layout
    newest = max(x64, key=lambda k: (k.build, k.qfe))
    d = os.path.join(shared, 'layouts', 'isf', 'symbols', 'windows', 'ntkrnlmp.pdb')
    newest.isf = Isf(load_json_xz(os.path.join(d, '%s-%d.json.xz' % (newest.guid, newest.age))),
                     'reference')
    partial = load_partial(shared, structs, all_fields, newest, log)
    del newest.isf

    # x64 by-build layouts: one per build, holding the fields that are the
    # same in every known update of that build (a field that moved between
    # updates is absent: it cannot be trusted for an unknown update). Struct
    # sizes are the smallest seen, so every present field stays inside them;
    # enums come from the newest update.
    groups = {}
    for k in x64:
        groups.setdefault(k.build, []).append(k)
    x64_build = []
    for build in sorted(groups):
        ks = sorted(groups[build], key=lambda k: k.qfe)
        top = ks[-1]
        b = Kernel()
        b.arch = ARCH_X64
        b.major, b.minor, b.build, b.qfe = top.major, top.minor, top.build, 0
        b.source = SRC_BUILD
        b.fields = [ks[0].fields[i] if all(k.fields[i] == ks[0].fields[i] for k in ks) else None
                    for i in range(len(all_fields))]
        b.sizes = [min(k.sizes[i] for k in ks) for i in range(len(structs))]
        varying = sum(1 for i in range(len(all_fields))
                      if b.fields[i] is None and ks[0].fields[i] is not None)
        b.description = '%d.%d.%d x64 (any update)' % (top.major, top.minor, top.build)
        b.origin = ('fields common to %d ISF files (%d.%d.%d.%d to .%d; %d fields differ and are absent)'
                    % (len(ks), top.major, top.minor, build, ks[0].qfe, top.qfe, varying))
        b.enums = list(top.enums)
        b.globals = None
        b.functions = None
        x64_build.append(b)

    borrow_enums(x86 + partial + x64 + x64_build, x64)

    # GUID layouts sorted by GUID bytes then age
    x64.sort(key=lambda k: (k.guid, k.age))
    by_build = x64_build + x86 + partial

    # Builds whose dump header reports a build number other than their
    # kernel's: 1909 (18363) runs the 1903 kernel, 20H2..22H2 (19042..19045)
    # the 2004 kernel, Windows 11 22H2 (22621) the 23H2 one (22631).
    aliases = [
        (ARCH_X64, 18363, 18362), (ARCH_X86, 18363, 18362),
        (ARCH_X64, 19042, 19041), (ARCH_X64, 19043, 19041),
        (ARCH_X64, 19044, 19041), (ARCH_X64, 19045, 19041),
        (ARCH_X86, 19042, 19041), (ARCH_X86, 19043, 19041),
        (ARCH_X86, 19044, 19041), (ARCH_X86, 19045, 19041),
        (ARCH_X64, 22621, 22631),
    ]
    aliases.sort()

    if args.report:
        for k in x64_build + x86 + partial:
            missing = [f.display for f, v in zip(all_fields, k.fields) if v is None]
            sys.stdout.write('%s: %d absent: %s\n' % (k.description, len(missing), ' '.join(missing)))
        for fi, n in enumerate(fn_names):
            if not any(any(f[1] == fi for f in k.functions) for k in x64):
                sys.stdout.write('function never present: %s\n' % n)
        for gi, n in enumerate(glob_names):
            if not any(k.globals[gi] for k in x64):
                sys.stdout.write('global never present: %s\n' % n)
        for fi, f in enumerate(all_fields):
            if all(k.fields[fi] is None for k in x64 + x86):
                sys.stdout.write('field never present: %s\n' % f.display)

    shared_rel = '../shared/layouts'
    stats = emit(out_dir, shared_rel, structs, all_fields, enums, glob_names, fn_names,
                 x64, by_build, aliases)
    log('structs %(structs)d, fields %(fields)d, GUID layouts %(guids)d, by-build layouts '
        '%(by_build)d, distinct field tables %(field_tables)d (%(field_entries)d deduplicated entries), size tables %(size_tables)d, '
        'enum tables %(enum_tables)d, function entries %(functions)d, string pool %(pool)d bytes'
        % stats)


if __name__ == '__main__':
    main()
