"""A tiny two-pass 6502 assembler for the demo collection's player routine.

The demo tunes must be real C64 programs written by the project, and a player kept
as readable assembly source (labels, comments, data tables) can be reviewed and
changed; a list of hand-encoded bytes cannot. This assembler covers exactly what the
player needs and nothing more: the official NMOS opcodes, the usual addressing-mode
syntax, labels with forward references, ``NAME = value`` constants, ``<``/``>``
(low/high byte) operators, ``+``/``-`` in expressions and ``.byte``/``.word``/
``.fill`` data. Every error names the source line, because a bad operand in a
generated data table is otherwise very hard to find.

Syntax, one statement per line::

    SID = $D400            ; constant (value known before use: zero page stays short)
    init:   ldx #<table    ; label, immediate low byte of a label
            lda table,x    ; absolute,X
            sta (ptr),y    ; (zero page),Y
            bne init       ; relative branch, range-checked
    table:  .byte 1, 2, >init, %1010, 'A'
            .word init, table+2
            .fill 3, $00   ; 3 bytes of $00

Numbers: ``$hex``, ``%binary``, decimal, ``'c'`` (one character). ``*`` is the
address of the current statement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sidflow_pipeline.errors import SidflowError

__all__ = ["OPCODES", "AsmError", "Program", "assemble"]

# Mode names: imp (implied), acc (accumulator), imm, zp, zpx, zpy, abs, absx, absy,
# ind (JMP only), indx ((zp,X)), indy ((zp),Y), rel (branches).
OPCODES: dict[str, dict[str, int]] = {
    "ADC": {"imm": 0x69, "zp": 0x65, "zpx": 0x75, "abs": 0x6D, "absx": 0x7D, "absy": 0x79, "indx": 0x61, "indy": 0x71},
    "AND": {"imm": 0x29, "zp": 0x25, "zpx": 0x35, "abs": 0x2D, "absx": 0x3D, "absy": 0x39, "indx": 0x21, "indy": 0x31},
    "ASL": {"acc": 0x0A, "zp": 0x06, "zpx": 0x16, "abs": 0x0E, "absx": 0x1E},
    "BCC": {"rel": 0x90},
    "BCS": {"rel": 0xB0},
    "BEQ": {"rel": 0xF0},
    "BIT": {"zp": 0x24, "abs": 0x2C},
    "BMI": {"rel": 0x30},
    "BNE": {"rel": 0xD0},
    "BPL": {"rel": 0x10},
    "BRK": {"imp": 0x00},
    "BVC": {"rel": 0x50},
    "BVS": {"rel": 0x70},
    "CLC": {"imp": 0x18},
    "CLD": {"imp": 0xD8},
    "CLI": {"imp": 0x58},
    "CLV": {"imp": 0xB8},
    "CMP": {"imm": 0xC9, "zp": 0xC5, "zpx": 0xD5, "abs": 0xCD, "absx": 0xDD, "absy": 0xD9, "indx": 0xC1, "indy": 0xD1},
    "CPX": {"imm": 0xE0, "zp": 0xE4, "abs": 0xEC},
    "CPY": {"imm": 0xC0, "zp": 0xC4, "abs": 0xCC},
    "DEC": {"zp": 0xC6, "zpx": 0xD6, "abs": 0xCE, "absx": 0xDE},
    "DEX": {"imp": 0xCA},
    "DEY": {"imp": 0x88},
    "EOR": {"imm": 0x49, "zp": 0x45, "zpx": 0x55, "abs": 0x4D, "absx": 0x5D, "absy": 0x59, "indx": 0x41, "indy": 0x51},
    "INC": {"zp": 0xE6, "zpx": 0xF6, "abs": 0xEE, "absx": 0xFE},
    "INX": {"imp": 0xE8},
    "INY": {"imp": 0xC8},
    "JMP": {"abs": 0x4C, "ind": 0x6C},
    "JSR": {"abs": 0x20},
    "LDA": {"imm": 0xA9, "zp": 0xA5, "zpx": 0xB5, "abs": 0xAD, "absx": 0xBD, "absy": 0xB9, "indx": 0xA1, "indy": 0xB1},
    "LDX": {"imm": 0xA2, "zp": 0xA6, "zpy": 0xB6, "abs": 0xAE, "absy": 0xBE},
    "LDY": {"imm": 0xA0, "zp": 0xA4, "zpx": 0xB4, "abs": 0xAC, "absx": 0xBC},
    "LSR": {"acc": 0x4A, "zp": 0x46, "zpx": 0x56, "abs": 0x4E, "absx": 0x5E},
    "NOP": {"imp": 0xEA},
    "ORA": {"imm": 0x09, "zp": 0x05, "zpx": 0x15, "abs": 0x0D, "absx": 0x1D, "absy": 0x19, "indx": 0x01, "indy": 0x11},
    "PHA": {"imp": 0x48},
    "PHP": {"imp": 0x08},
    "PLA": {"imp": 0x68},
    "PLP": {"imp": 0x28},
    "ROL": {"acc": 0x2A, "zp": 0x26, "zpx": 0x36, "abs": 0x2E, "absx": 0x3E},
    "ROR": {"acc": 0x6A, "zp": 0x66, "zpx": 0x76, "abs": 0x6E, "absx": 0x7E},
    "RTI": {"imp": 0x40},
    "RTS": {"imp": 0x60},
    "SBC": {"imm": 0xE9, "zp": 0xE5, "zpx": 0xF5, "abs": 0xED, "absx": 0xFD, "absy": 0xF9, "indx": 0xE1, "indy": 0xF1},
    "SEC": {"imp": 0x38},
    "SED": {"imp": 0xF8},
    "SEI": {"imp": 0x78},
    "STA": {"zp": 0x85, "zpx": 0x95, "abs": 0x8D, "absx": 0x9D, "absy": 0x99, "indx": 0x81, "indy": 0x91},
    "STX": {"zp": 0x86, "zpy": 0x96, "abs": 0x8E},
    "STY": {"zp": 0x84, "zpx": 0x94, "abs": 0x8C},
    "TAX": {"imp": 0xAA},
    "TAY": {"imp": 0xA8},
    "TSX": {"imp": 0xBA},
    "TXA": {"imp": 0x8A},
    "TXS": {"imp": 0x9A},
    "TYA": {"imp": 0x98},
}

_SIZE = {
    "imp": 1,
    "acc": 1,
    "imm": 2,
    "zp": 2,
    "zpx": 2,
    "zpy": 2,
    "indx": 2,
    "indy": 2,
    "rel": 2,
    "abs": 3,
    "absx": 3,
    "absy": 3,
    "ind": 3,
}
# When an operand fits in a byte, the zero-page form is preferred if the opcode has one.
_SHORT_FORM = {"abs": "zp", "absx": "zpx", "absy": "zpy"}

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_LABEL_RE = re.compile(rf"^({_NAME}):\s*(.*)$")
_CONST_RE = re.compile(rf"^({_NAME})\s*=\s*(.+)$")
_TOKEN_RE = re.compile(rf"\s*(\$[0-9A-Fa-f]+|%[01]+|\d+|'.'|{_NAME}|[-+<>*()])")


class AsmError(SidflowError, ValueError):
    """A source error; ``line`` is the 1-based line number in the source text."""

    def __init__(self, message: str, line: int, text: str = "") -> None:
        self.line = line
        self.text = text
        suffix = f": {text.strip()}" if text.strip() else ""
        super().__init__(f"line {line}: {message}{suffix}")


@dataclass(frozen=True)
class Program:
    """Assembled bytes placed at ``origin``, with the address of every label."""

    origin: int
    code: bytes
    labels: Mapping[str, int] = field(default_factory=dict)

    @property
    def end(self) -> int:
        """First address after the program."""
        return self.origin + len(self.code)

    def address(self, label: str) -> int:
        """Address of a label (a KeyError names what is missing)."""
        try:
            return self.labels[label]
        except KeyError:
            raise KeyError(f"no label {label!r} in the program") from None


class _Unresolved(Exception):
    """An expression refers to a symbol not defined yet (first pass only)."""


@dataclass
class _Statement:
    line: int
    text: str
    address: int
    kind: str  # "op", "byte", "word", "fill", "const"
    mnemonic: str = ""
    mode: str = ""
    operand: str = ""
    args: list[str] = field(default_factory=list)
    size: int = 0


def _strip_comment(line: str) -> str:
    # A ';' inside a character literal (';') is data, not a comment.
    out: list[str] = []
    i = 0
    while i < len(line):
        if line[i] == "'" and i + 2 < len(line) and line[i + 2] == "'":
            out.append(line[i : i + 3])
            i += 3
            continue
        if line[i] == ";":
            break
        out.append(line[i])
        i += 1
    return "".join(out).strip()


class _Evaluator:
    """Evaluates ``[<|>] term {(+|-) term}`` with terms number, symbol, ``*`` or ``( expr )``."""

    def __init__(self, symbols: Mapping[str, int], pc: int, final: bool, line: int, text: str) -> None:
        self.symbols = symbols
        self.pc = pc
        self.final = final
        self.line = line
        self.text = text

    def error(self, message: str) -> AsmError:
        return AsmError(message, self.line, self.text)

    def tokenize(self, expr: str) -> list[str]:
        tokens: list[str] = []
        pos = 0
        expr = expr.strip()
        while pos < len(expr):
            match = _TOKEN_RE.match(expr, pos)
            if not match:
                raise self.error(f"cannot parse expression {expr!r} at {expr[pos:]!r}")
            tokens.append(match.group(1))
            pos = match.end()
            while pos < len(expr) and expr[pos].isspace():
                pos += 1
        if not tokens:
            raise self.error("missing operand")
        return tokens

    def evaluate(self, expr: str) -> int:
        tokens = self.tokenize(expr)
        selector = None
        if tokens[0] in ("<", ">"):
            selector = tokens.pop(0)
        value, rest = self._sum(tokens)
        if rest:
            raise self.error(f"unexpected {rest[0]!r} in expression {expr!r}")
        if selector == "<":
            return value & 0xFF
        if selector == ">":
            return (value >> 8) & 0xFF
        return value

    def _sum(self, tokens: list[str]) -> tuple[int, list[str]]:
        value, tokens = self._term(tokens)
        while tokens and tokens[0] in "+-":
            op = tokens[0]
            rhs, tokens = self._term(tokens[1:])
            value = value + rhs if op == "+" else value - rhs
        return value, tokens

    def _term(self, tokens: list[str]) -> tuple[int, list[str]]:
        if not tokens:
            raise self.error("expression ends too early")
        tok, rest = tokens[0], tokens[1:]
        if tok == "-":
            value, rest = self._term(rest)
            return -value, rest
        if tok == "(":
            value, rest = self._sum(rest)
            if not rest or rest[0] != ")":
                raise self.error("missing ')' in expression")
            return value, rest[1:]
        if tok == "*":
            return self.pc, rest
        if tok.startswith("$"):
            return int(tok[1:], 16), rest
        if tok.startswith("%"):
            return int(tok[1:], 2), rest
        if tok.startswith("'"):
            return ord(tok[1]), rest
        if tok.isdigit():
            return int(tok), rest
        if tok in self.symbols:
            return self.symbols[tok], rest
        if self.final:
            raise self.error(f"unknown label {tok!r}")
        raise _Unresolved(tok)


def _split_args(text: str) -> list[str]:
    # Commas separate arguments; a quoted ',' is a character literal.
    args: list[str] = []
    current = ""
    i = 0
    while i < len(text):
        if text[i] == "'" and i + 2 < len(text) and text[i + 2] == "'":
            current += text[i : i + 3]
            i += 3
            continue
        if text[i] == ",":
            args.append(current.strip())
            current = ""
        else:
            current += text[i]
        i += 1
    args.append(current.strip())
    return args


def _parse_operand(operand: str) -> tuple[str, str]:
    """Syntactic addressing mode (before zero-page shortening) and the expression."""
    op = operand.strip()
    if not op:
        return "imp", ""
    if op.upper() == "A":
        return "acc", ""
    if op.startswith("#"):
        return "imm", op[1:]
    compact = re.sub(r"\s+", "", op)
    upper = compact.upper()
    if upper.startswith("(") and upper.endswith("),Y"):
        return "indy", compact[1:-3]
    if upper.startswith("(") and upper.endswith(",X)"):
        return "indx", compact[1:-3]
    if upper.endswith(",X"):
        return "absx", compact[:-2]
    if upper.endswith(",Y"):
        return "absy", compact[:-2]
    if compact.startswith("(") and compact.endswith(")") and _balanced_outer(compact):
        return "ind", compact[1:-1]
    return "abs", op


def _balanced_outer(text: str) -> bool:
    # "(a)+(b)" is an expression, not an indirect operand.
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(text) - 1:
            return False
    return True


def assemble(source: str, origin: int, *, symbols: Mapping[str, int] | None = None) -> Program:
    """Assemble ``source`` for loading at ``origin``; raise :class:`AsmError` on any error.

    Pass 1 fixes every statement's size and address: an operand whose value is not
    known yet (a forward label) gets the absolute form, so pass 2, which knows every
    label, never changes a size. ``symbols`` predefines constants (e.g. a table base).
    """
    if not 0 <= origin <= 0xFFFF:
        raise AsmError(f"origin ${origin:X} outside $0000-$FFFF", 0)
    table: dict[str, int] = dict(symbols or {})
    statements: list[_Statement] = []
    pc = origin
    for number, raw in enumerate(source.splitlines(), start=1):
        text = _strip_comment(raw)
        while True:
            label = _LABEL_RE.match(text)
            if not label:
                break
            name = label.group(1)
            if name in table:
                raise AsmError(f"label {name!r} defined twice", number, raw)
            table[name] = pc
            text = label.group(2).strip()
        if not text:
            continue
        const = _CONST_RE.match(text)
        if const:
            name = const.group(1)
            if name in table:
                raise AsmError(f"symbol {name!r} defined twice", number, raw)
            evaluator = _Evaluator(table, pc, True, number, raw)
            table[name] = evaluator.evaluate(const.group(2))
            continue
        stmt = _first_pass(text, number, raw, pc, table)
        statements.append(stmt)
        pc += stmt.size
        if pc > 0x10000:
            raise AsmError("program runs past $FFFF", number, raw)
    code = bytearray()
    for stmt in statements:
        code += _second_pass(stmt, table)
    return Program(origin=origin, code=bytes(code), labels=table)


def _first_pass(text: str, number: int, raw: str, pc: int, table: Mapping[str, int]) -> _Statement:
    word, _, rest = text.replace("\t", " ").partition(" ")
    word_upper = word.upper()
    rest = rest.strip()
    if word_upper in (".BYTE", ".WORD"):
        args = _split_args(rest)
        if not rest or any(not a for a in args):
            raise AsmError(f"{word_upper.lower()} needs comma-separated values", number, raw)
        kind = word_upper[1:].lower()
        return _Statement(number, raw, pc, kind, args=args, size=len(args) * (1 if kind == "byte" else 2))
    if word_upper == ".FILL":
        args = _split_args(rest)
        if not rest or len(args) > 2:
            raise AsmError(".fill needs a count and an optional value", number, raw)
        count = _Evaluator(table, pc, True, number, raw).evaluate(args[0])
        if count < 0:
            raise AsmError(f".fill count {count} is negative", number, raw)
        return _Statement(number, raw, pc, "fill", args=args, size=count)
    if word_upper.startswith("."):
        raise AsmError(f"unknown directive {word!r}", number, raw)
    if word_upper not in OPCODES:
        raise AsmError(f"unknown opcode {word!r}", number, raw)
    modes = OPCODES[word_upper]
    if "rel" in modes:
        mode, operand = "rel", rest
        if not operand:
            raise AsmError(f"{word_upper} needs a target", number, raw)
    else:
        mode, operand = _parse_operand(rest)
        if mode == "imp" and "imp" not in modes and "acc" in modes:
            mode = "acc"  # "ASL" means "ASL A"
        if mode in _SHORT_FORM:
            try:
                value = _Evaluator(table, pc, False, number, raw).evaluate(operand)
            except _Unresolved:
                value = None
            short = _SHORT_FORM[mode]
            if value is not None and 0 <= value <= 0xFF and short in modes:
                mode = short
            elif mode == "absy" and "absy" not in modes and "zpy" in modes:
                mode = "zpy"  # e.g. STX zp,Y only exists in zero page; checked in pass 2
    if mode not in modes:
        raise AsmError(f"{word_upper} has no {_MODE_NAMES[mode]} addressing mode", number, raw)
    return _Statement(number, raw, pc, "op", mnemonic=word_upper, mode=mode, operand=operand, size=_SIZE[mode])


_MODE_NAMES = {
    "imp": "implied",
    "acc": "accumulator",
    "imm": "immediate",
    "zp": "zero page",
    "zpx": "zero page,X",
    "zpy": "zero page,Y",
    "abs": "absolute",
    "absx": "absolute,X",
    "absy": "absolute,Y",
    "ind": "indirect",
    "indx": "(zero page,X)",
    "indy": "(zero page),Y",
    "rel": "relative",
}


def _second_pass(stmt: _Statement, table: Mapping[str, int]) -> bytes:
    ev = _Evaluator(table, stmt.address, True, stmt.line, stmt.text)
    if stmt.kind == "byte":
        out = bytearray()
        for arg in stmt.args:
            value = ev.evaluate(arg)
            if not -128 <= value <= 0xFF:
                raise AsmError(f".byte value {value} does not fit in a byte", stmt.line, stmt.text)
            out.append(value & 0xFF)
        return bytes(out)
    if stmt.kind == "word":
        out = bytearray()
        for arg in stmt.args:
            value = ev.evaluate(arg)
            if not 0 <= value <= 0xFFFF:
                raise AsmError(f".word value {value} does not fit in 16 bits", stmt.line, stmt.text)
            out += bytes((value & 0xFF, value >> 8))
        return bytes(out)
    if stmt.kind == "fill":
        fill = ev.evaluate(stmt.args[1]) if len(stmt.args) == 2 else 0
        if not 0 <= fill <= 0xFF:
            raise AsmError(f".fill value {fill} does not fit in a byte", stmt.line, stmt.text)
        return bytes([fill]) * stmt.size
    opcode = OPCODES[stmt.mnemonic][stmt.mode]
    size = _SIZE[stmt.mode]
    if size == 1:
        return bytes((opcode,))
    value = ev.evaluate(stmt.operand)
    if stmt.mode == "rel":
        offset = value - (stmt.address + 2)
        if not -128 <= offset <= 127:
            raise AsmError(
                f"branch target ${value & 0xFFFF:04X} is out of range ({offset:+d} bytes; limit -128..+127)",
                stmt.line,
                stmt.text,
            )
        return bytes((opcode, offset & 0xFF))
    if size == 2:
        if stmt.mode == "imm":
            if not -128 <= value <= 0xFF:
                raise AsmError(f"immediate value {value} does not fit in a byte", stmt.line, stmt.text)
        elif not 0 <= value <= 0xFF:
            raise AsmError(
                f"operand ${value & 0xFFFF:04X} is not a zero-page address ({_MODE_NAMES[stmt.mode]})",
                stmt.line,
                stmt.text,
            )
        return bytes((opcode, value & 0xFF))
    if not 0 <= value <= 0xFFFF:
        raise AsmError(f"address {value} outside $0000-$FFFF", stmt.line, stmt.text)
    return bytes((opcode, value & 0xFF, value >> 8))
