package torchpth

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// maxMemo bounds the number of memo entries a pickle may define, and
// maxObjects the containers and calls it may create. A state dict with its
// optimizer state needs a few objects per tensor (tens of thousands for the
// largest checkpoints); without a bound, 30 M one-byte EMPTY_LIST opcodes
// become gigabytes of objects.
const (
	maxMemo    = 2_000_000
	maxObjects = 2_000_000
)

// makesObject marks opcodes that allocate a container or call a function.
var makesObject = map[byte]bool{']': true, '}': true, ')': true, 't': true, 0x85: true, 0x86: true, 0x87: true,
	'l': true, 'd': true, 0x8f: true, 0x91: true, 'R': true, 0x81: true, 'b': true, 'Q': true}

// operand kinds of the accepted opcodes (CPython Lib/pickletools.py).
const (
	argNone     = iota
	arg1        // fixed 1 byte
	arg2        // fixed 2 bytes
	arg4        // fixed 4 bytes
	arg8        // fixed 8 bytes
	argLen1     // u8 length + bytes
	argLen4     // u32 length + bytes
	argLenI4    // i32 length + bytes
	argLen8     // u64 length + bytes
	argTwoLines // GLOBAL: module\nname\n
	argStop
)

// accepted maps every opcode this reader accepts to its operand kind and name
// (docs/CHECKPOINTS.md §2.4). Everything else is refused.
var accepted = map[byte]struct {
	kind int
	name string
}{
	0x80: {arg1, "PROTO"}, 0x95: {arg8, "FRAME"}, '.': {argStop, "STOP"},
	'(': {argNone, "MARK"}, '0': {argNone, "POP"}, '1': {argNone, "POP_MARK"}, '2': {argNone, "DUP"},
	'N': {argNone, "NONE"}, 0x88: {argNone, "NEWTRUE"}, 0x89: {argNone, "NEWFALSE"},
	'J': {arg4, "BININT"}, 'K': {arg1, "BININT1"}, 'M': {arg2, "BININT2"},
	0x8a: {argLen1, "LONG1"}, 'G': {arg8, "BINFLOAT"},
	'X': {argLen4, "BINUNICODE"}, 0x8c: {argLen1, "SHORT_BINUNICODE"}, 0x8d: {argLen8, "BINUNICODE8"},
	'C': {argLen1, "SHORT_BINBYTES"}, 'B': {argLen4, "BINBYTES"}, 0x8e: {argLen8, "BINBYTES8"},
	'U': {argLen1, "SHORT_BINSTRING"}, 'T': {argLenI4, "BINSTRING"},
	')': {argNone, "EMPTY_TUPLE"}, 't': {argNone, "TUPLE"}, 0x85: {argNone, "TUPLE1"},
	0x86: {argNone, "TUPLE2"}, 0x87: {argNone, "TUPLE3"},
	']': {argNone, "EMPTY_LIST"}, 'a': {argNone, "APPEND"}, 'e': {argNone, "APPENDS"}, 'l': {argNone, "LIST"},
	'}': {argNone, "EMPTY_DICT"}, 's': {argNone, "SETITEM"}, 'u': {argNone, "SETITEMS"}, 'd': {argNone, "DICT"},
	0x8f: {argNone, "EMPTY_SET"}, 0x90: {argNone, "ADDITEMS"}, 0x91: {argNone, "FROZENSET"},
	'h': {arg1, "BINGET"}, 'j': {arg4, "LONG_BINGET"},
	'q': {arg1, "BINPUT"}, 'r': {arg4, "LONG_BINPUT"}, 0x94: {argNone, "MEMOIZE"},
	'c': {argTwoLines, "GLOBAL"}, 0x93: {argNone, "STACK_GLOBAL"},
	'R': {argNone, "REDUCE"}, 'b': {argNone, "BUILD"}, 0x81: {argNone, "NEWOBJ"},
	'Q': {argNone, "BINPERSID"},
}

// rejected names opcodes that are valid pickle but refused here, for clearer errors.
var rejected = map[byte]string{
	'I': "INT", 'L': "LONG", 'S': "STRING", 'V': "UNICODE", 'F': "FLOAT", 'p': "PUT", 'g': "GET",
	'P': "PERSID", 'i': "INST", 'o': "OBJ", 0x92: "NEWOBJ_EX", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4",
	0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER", 0x8b: "LONG4",
}

// A pickleError is an error at a byte offset of data.pkl.
type pickleError struct {
	kind   error
	offset int64
	msg    string
}

func (e *pickleError) Error() string { return fmt.Sprintf("%s at data.pkl offset %d", e.msg, e.offset) }
func (e *pickleError) Unwrap() error { return e.kind }

func perr(kind error, off int, format string, args ...any) error {
	return &pickleError{kind: kind, offset: int64(off), msg: fmt.Sprintf(format, args...)}
}

// scan walks the whole opcode stream of a pickle without executing it. It
// guarantees to the machine that runs afterwards: only accepted opcodes
// occur, every operand lies inside data (so no length read from the file
// sizes an allocation beyond the file), the stream ends with STOP and
// nothing follows it, memo reads name an index written earlier, the memo
// stays under its cap, and every GLOBAL passes allow.
func scan(data []byte, allow func(module, name string) bool) error {
	memo := make(map[uint32]bool)
	objects := 0
	pos := 0
	need := func(op int, n uint64) error {
		if n > uint64(len(data)-pos) {
			return perr(ErrPickle, op, "operand of %d bytes runs past the end of the pickle (%d bytes left)", n, len(data)-pos)
		}
		return nil
	}
	for pos < len(data) {
		op := pos
		code := data[pos]
		pos++
		info, ok := accepted[code]
		if !ok {
			if name, ok := rejected[code]; ok {
				return perr(ErrPickle, op, "opcode %s (0x%02x) is not accepted", name, code)
			}
			return perr(ErrPickle, op, "unknown opcode 0x%02x", code)
		}
		switch info.kind {
		case arg1, arg2, arg4, arg8:
			n := map[int]uint64{arg1: 1, arg2: 2, arg4: 4, arg8: 8}[info.kind]
			if err := need(op, n); err != nil {
				return err
			}
			operand := data[pos : pos+int(n)]
			pos += int(n)
			switch code {
			case 0x80:
				if operand[0] < 2 || operand[0] > 5 {
					return perr(ErrPickle, op, "pickle protocol %d (want 2 to 5)", operand[0])
				}
			case 0x95:
				if err := need(op, binary.LittleEndian.Uint64(operand)); err != nil {
					return err
				}
			case 'h', 'j':
				idx := uint32(operand[0])
				if code == 'j' {
					idx = binary.LittleEndian.Uint32(operand)
				}
				if !memo[idx] {
					return perr(ErrPickle, op, "%s reads memo entry %d, which was never written", info.name, idx)
				}
			case 'q', 'r':
				idx := uint32(operand[0])
				if code == 'r' {
					idx = binary.LittleEndian.Uint32(operand)
				}
				memo[idx] = true
			}
		case argLen1, argLen4, argLenI4, argLen8:
			var n uint64
			switch info.kind {
			case argLen1:
				if err := need(op, 1); err != nil {
					return err
				}
				n = uint64(data[pos])
				pos++
			case argLen4, argLenI4:
				if err := need(op, 4); err != nil {
					return err
				}
				v := binary.LittleEndian.Uint32(data[pos:])
				if info.kind == argLenI4 && int32(v) < 0 {
					return perr(ErrPickle, op, "%s with negative length %d", info.name, int32(v))
				}
				n = uint64(v)
				pos += 4
			case argLen8:
				if err := need(op, 8); err != nil {
					return err
				}
				n = binary.LittleEndian.Uint64(data[pos:])
				pos += 8
			}
			if code == 0x8a && n > 8 {
				return perr(ErrPickle, op, "LONG1 of %d bytes (at most 8 accepted)", n)
			}
			if err := need(op, n); err != nil {
				return err
			}
			pos += int(n)
		case argTwoLines:
			var parts [2]string
			for i := range parts {
				nl := strings.IndexByte(string(data[pos:min(len(data), pos+512)]), '\n')
				if nl < 0 {
					return perr(ErrPickle, op, "GLOBAL operand is not two short lines")
				}
				parts[i] = string(data[pos : pos+nl])
				pos += nl + 1
			}
			if !allow(parts[0], parts[1]) {
				return perr(ErrForbiddenGlobal, op, "forbidden global %q", parts[0]+"."+parts[1])
			}
		case argStop:
			if pos != len(data) {
				return perr(ErrPickle, pos, "%d bytes of trailing data after STOP", len(data)-pos)
			}
			return nil
		}
		if code == 0x94 {
			memo[uint32(len(memo))] = true
		}
		if makesObject[code] {
			if objects++; objects > maxObjects {
				return perr(ErrLimit, op, "more than %d objects; a state dict needs far fewer", maxObjects)
			}
		}
		if len(memo) > maxMemo {
			return perr(ErrLimit, op, "more than %d memo entries", maxMemo)
		}
	}
	return perr(ErrPickle, len(data), "pickle ends without STOP")
}
