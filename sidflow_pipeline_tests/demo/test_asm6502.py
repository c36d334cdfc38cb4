"""The assembler encodes every addressing mode the player uses, byte for byte.

Expected encodings are from the MOS 6502 programming manual's opcode table; a wrong
byte here would make every demo tune crash or play garbage.
"""

from __future__ import annotations

import pytest

from sidflow_pipeline.demo.asm6502 import OPCODES, AsmError, Program, assemble


def code(source: str, origin: int = 0x1000) -> bytes:
    return assemble(source, origin).code


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("rts", "60"),  # implied
        ("tax", "aa"),
        ("asl", "0a"),  # accumulator, operand omitted
        ("asl a", "0a"),  # accumulator, explicit
        ("lda #$41", "a9 41"),  # immediate
        ("lda #65", "a9 41"),
        ("lda #%01000001", "a9 41"),
        ("lda #'A'", "a9 41"),
        ("ldx #-1", "a2 ff"),
        ("lda $fb", "a5 fb"),  # zero page
        ("sta $fb", "85 fb"),
        ("lda $fb,x", "b5 fb"),  # zero page,X
        ("ldx $fb,y", "b6 fb"),  # zero page,Y
        ("stx $10,y", "96 10"),
        ("lda $d418", "ad 18 d4"),  # absolute
        ("sta $d404", "8d 04 d4"),
        ("lda $1234,x", "bd 34 12"),  # absolute,X
        ("sta $d400,y", "99 00 d4"),  # absolute,Y
        ("lda $fb,y", "b9 fb 00"),  # LDA has no zp,Y: absolute,Y
        ("lda ($fb),y", "b1 fb"),  # (zp),Y
        ("sta ( $fb ) , y", "91 fb"),
        ("lda ($fb,x)", "a1 fb"),  # (zp,X)
        ("jmp ($0314)", "6c 14 03"),  # indirect
        ("jmp $1000", "4c 00 10"),
        ("jsr $ffd2", "20 d2 ff"),
        ("cpx $1000", "ec 00 10"),
        ("dec $1000", "ce 00 10"),
        ("inc $fb", "e6 fb"),
        ("lda ($10)+($20)", "a5 30"),  # parenthesised expression, not indirect
    ],
)
def test_addressing_modes_encode(source: str, expected: str) -> None:
    assert code(source).hex(" ") == expected


def test_relative_branches_backward_and_forward() -> None:
    program = assemble(
        """
        loop:   dex
                bne loop        ; back 3 bytes from the next instruction
                beq done        ; forward
                nop
        done:   rts
        """,
        0x1000,
    )
    assert program.code.hex(" ") == "ca d0 fd f0 01 ea 60"
    assert program.labels["done"] == 0x1006


def test_forward_labels_lo_hi_and_data() -> None:
    program = assemble(
        """
        SID = $D400
        ptr = $FB
                lda #<table
                sta ptr
                lda #>table
                sta ptr+1
                lda table+1,x
                sta SID+4
                jmp *
        table:  .byte 1, $02, %11, 'z', <table, >table, ';'
                .word table, $1234
                .fill 2, $ee
                .fill 1
        """,
        0x1000,
    )
    table = program.address("table")
    assert table == 0x1011
    assert program.code[:17].hex(" ") == "a9 11 85 fb a9 10 85 fc bd 12 10 8d 04 d4 4c 0e 10"
    assert program.code[17:] == bytes([1, 2, 3, ord("z"), 0x11, 0x10, ord(";"), 0x11, 0x10, 0x34, 0x12, 0xEE, 0xEE, 0])
    assert program.end == 0x1000 + len(program.code)
    assert program.labels["SID"] == 0xD400


def test_forward_reference_gets_absolute_form_even_when_it_lands_in_zero_page() -> None:
    # Size is fixed in pass 1, where the label is unknown: absolute, never shrunk later.
    program = assemble("lda later\nlater: .byte 0", 0x0010)
    assert program.code.hex(" ") == "ad 13 00 00"


def test_label_named_like_an_opcode() -> None:
    assert assemble("nop: jmp nop", 0x1000).code.hex(" ") == "4c 00 10"


def test_symbols_argument_and_several_labels_on_one_line() -> None:
    program = assemble("a: b: lda BASE", 0x2000, symbols={"BASE": 0x80})
    assert program.code.hex(" ") == "a5 80"
    assert program.labels["a"] == program.labels["b"] == 0x2000


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ("nop\nfoo #1", 2, "unknown opcode 'foo'"),
        ("\n\nlda missing", 3, "unknown label 'missing'"),
        ("start: nop\n.fill 200\nbne start", 3, "out of range"),
        ("bne far\n.fill 128\nfar: rts", 1, "out of range"),
        ("sta #1", 1, "STA has no immediate addressing mode"),
        ("jmp ($fb),y", 1, "JMP has no (zero page),Y"),
        ("lda #$100", 1, "does not fit in a byte"),
        ("x: nop\nx: nop", 2, "defined twice"),
        ("X = 1\nX = 2", 2, "defined twice"),
        (".byte 256", 1, "does not fit in a byte"),
        (".word $10000", 1, "does not fit in 16 bits"),
        (".byte", 1, "comma-separated"),
        (".fill -1", 1, "negative"),
        (".fill 1, 999", 1, "does not fit"),
        (".fill", 1, "count"),
        (".org $1000", 1, "unknown directive"),
        ("lda $12 $34", 1, "unexpected"),
        ("lda ($10", 1, "missing ')'"),
        ("lda (1+2", 1, "missing ')'"),
        ("lda 1+", 1, "ends too early"),
        ("lda @", 1, "cannot parse"),
        ("bne", 1, "needs a target"),
        ("lda ($1234),y", 1, "not a zero-page address"),
        ("stx $1234,y", 1, "not a zero-page address"),  # STX has zero page,Y only
        ("lda $10000", 1, "outside $0000-$FFFF"),
        ("lda #", 1, "missing operand"),
    ],
)
def test_errors_name_the_line(source: str, line: int, message: str) -> None:
    with pytest.raises(AsmError) as info:
        assemble(source, 0x1000)
    assert info.value.line == line
    assert str(info.value).startswith(f"line {line}: ")
    assert message in str(info.value)


def test_program_past_ffff_and_bad_origin_are_errors() -> None:
    with pytest.raises(AsmError, match="past \\$FFFF"):
        assemble(".fill 32", 0xFFF0)
    with pytest.raises(AsmError, match="origin"):
        assemble("nop", 0x10000)


def test_program_address_of_missing_label() -> None:
    program = Program(0x1000, b"\x60", {"x": 1})
    with pytest.raises(KeyError, match="no label 'y'"):
        program.address("y")


def test_opcode_table_is_the_official_set() -> None:
    # 56 official mnemonics, 151 official opcodes, each opcode byte used once.
    assert len(OPCODES) == 56
    opcodes = [op for modes in OPCODES.values() for op in modes.values()]
    assert len(opcodes) == 151
    assert len(set(opcodes)) == 151
