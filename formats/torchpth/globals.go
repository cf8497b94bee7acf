package torchpth

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"

	"github.com/nlpodyssey/gopickle/types"
	"github.com/sambay-conv/sambay-conv/formats"
)

// Objects the whitelisted globals resolve to. None of them runs code from
// the file: rebuild calls record tensor views, storage and dtype globals are
// markers.

// storageType marks a torch.<X>Storage class (valid only inside a persistent id).
type storageType struct {
	name    string
	dt      formats.DType // Invalid for storages this reader cannot use
	untyped bool
}

// dtypeMarker is a torch.<dtype> global, used by _rebuild_tensor_v3.
type dtypeMarker struct {
	name string
	dt   formats.DType
}

// typeMarker is torch.Tensor or torch.nn.parameter.Parameter.
type typeMarker struct{ name string }

// storageRef is a storage named by a persistent id; its bytes are the zip
// record data/<key>.
type storageRef struct {
	key     string
	st      storageType
	numel   int64 // elements (typed) or bytes (UntypedStorage)
	byteLen int64
}

// tensorRef is a tensor view recorded by a rebuild call.
type tensorRef struct {
	storage *storageRef
	offset  int64 // elements
	shape   []int64
	stride  []int64
	dt      formats.DType
	dtName  string
}

// placeholder stands for an unknown global under AllowUnknownGlobals: any
// call, construction or BUILD on it yields another placeholder.
type placeholder struct{ name string }

func (p *placeholder) Call(args ...any) (any, error)  { return &placeholder{p.name + "()"}, nil }
func (p *placeholder) PyNew(args ...any) (any, error) { return &placeholder{p.name + "()"}, nil }
func (p *placeholder) PySetState(any) error           { return nil }

var storageTypes = map[string]formats.DType{
	"DoubleStorage": formats.F64, "FloatStorage": formats.F32, "HalfStorage": formats.F16,
	"BFloat16Storage": formats.BF16, "LongStorage": formats.I64, "IntStorage": formats.I32,
	"ShortStorage": formats.I16, "CharStorage": formats.I8, "ByteStorage": formats.U8,
	"BoolStorage": formats.BOOL,
	// Valid storages that no model tensor may use (ErrUnsupportedDtype when one does).
	"ComplexFloatStorage": formats.Invalid, "ComplexDoubleStorage": formats.Invalid,
	"QInt8Storage": formats.Invalid, "QUInt8Storage": formats.Invalid, "QInt32Storage": formats.Invalid,
	"QUInt4x2Storage": formats.Invalid, "QUInt2x4Storage": formats.Invalid,
}

var dtypeNames = map[string]formats.DType{
	"float32": formats.F32, "float": formats.F32, "float16": formats.F16, "half": formats.F16,
	"bfloat16": formats.BF16, "float64": formats.F64, "double": formats.F64,
	"int8": formats.I8, "uint8": formats.U8, "int16": formats.I16, "int32": formats.I32,
	"int64": formats.I64, "bool": formats.BOOL,
	"float8_e4m3fn": formats.F8_E4M3, "float8_e5m2": formats.F8_E5M2,
	"float8_e4m3fnuz": formats.F8_E4M3FNUZ, "float8_e5m2fnuz": formats.F8_E5M2FNUZ,
	"float8_e8m0fnu": formats.F8_E8M0, "uint16": formats.U16, "uint32": formats.U32, "uint64": formats.U64,
}

// lookupGlobal resolves a whitelisted global (docs/CHECKPOINTS.md §2.5),
// or returns nil.
func lookupGlobal(module, name string) any {
	switch module {
	case "collections":
		if name == "OrderedDict" {
			return &types.OrderedDictClass{}
		}
	case "torch._utils":
		switch name {
		case "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter", "_rebuild_parameter_with_state":
			return rebuildFunc(name)
		}
	case "torch._tensor":
		if name == "_rebuild_from_type_v2" {
			return rebuildFunc(name)
		}
	case "torch":
		if dt, ok := storageTypes[name]; ok {
			return storageType{name: name, dt: dt}
		}
		if name == "UntypedStorage" {
			return storageType{name: name, dt: formats.U8, untyped: true}
		}
		if dt, ok := dtypeNames[name]; ok {
			return dtypeMarker{name: name, dt: dt}
		}
		if name == "Tensor" {
			return typeMarker{"torch.Tensor"}
		}
	case "torch.nn.parameter":
		if name == "Parameter" {
			return typeMarker{"torch.nn.parameter.Parameter"}
		}
	case "builtins":
		if name == "set" || name == "frozenset" {
			return setClass{}
		}
	case "_codecs":
		if name == "encode" {
			return codecsEncode{}
		}
	case "numpy.core.multiarray", "numpy._core.multiarray":
		if name == "scalar" {
			return numpyScalar{}
		}
	case "numpy":
		if name == "dtype" {
			return numpyDtypeClass{}
		}
	}
	return nil
}

// rebuildFunc is one of torch's tensor rebuild functions (torch/_utils.py).
type rebuildFunc string

func (f rebuildFunc) Call(args ...any) (any, error) {
	switch f {
	case "_rebuild_tensor_v2", "_rebuild_tensor_v3":
		want := 6
		if f == "_rebuild_tensor_v3" {
			want = 7
		}
		if len(args) < want {
			return nil, fmt.Errorf("%s with %d arguments (want at least %d)", f, len(args), want)
		}
		st, ok := args[0].(*storageRef)
		if !ok {
			return nil, fmt.Errorf("%s: first argument is %T, not a storage", f, args[0])
		}
		off, ok := toInt64(args[1])
		if !ok {
			return nil, fmt.Errorf("%s: storage offset is %T, not an int", f, args[1])
		}
		shape, err := intTuple(args[2])
		if err != nil {
			return nil, fmt.Errorf("%s: size: %v", f, err)
		}
		stride, err := intTuple(args[3])
		if err != nil {
			return nil, fmt.Errorf("%s: stride: %v", f, err)
		}
		if len(shape) != len(stride) {
			return nil, fmt.Errorf("%s: size has %d dims but stride has %d", f, len(shape), len(stride))
		}
		t := &tensorRef{storage: st, offset: off, shape: shape, stride: stride, dt: st.st.dt, dtName: st.st.name}
		if f == "_rebuild_tensor_v3" {
			dm, ok := args[6].(dtypeMarker)
			if !ok {
				return nil, fmt.Errorf("%s: dtype argument is %T, not a torch dtype", f, args[6])
			}
			t.dt, t.dtName = dm.dt, "torch."+dm.name
		} else if st.st.untyped {
			return nil, fmt.Errorf("%s on an UntypedStorage (needs _rebuild_tensor_v3)", f)
		}
		return t, nil
	case "_rebuild_parameter", "_rebuild_parameter_with_state":
		if len(args) < 3 {
			return nil, fmt.Errorf("%s with %d arguments (want at least 3)", f, len(args))
		}
		if _, ok := args[0].(*tensorRef); !ok {
			return nil, fmt.Errorf("%s: first argument is %T, not a tensor", f, args[0])
		}
		return args[0], nil
	case "_rebuild_from_type_v2":
		if len(args) != 4 {
			return nil, fmt.Errorf("%s with %d arguments (want 4)", f, len(args))
		}
		fn, ok := args[0].(rebuildFunc)
		if !ok || fn == "_rebuild_from_type_v2" {
			return nil, fmt.Errorf("%s: function argument %T is not a tensor rebuild function", f, args[0])
		}
		if _, ok := args[1].(typeMarker); !ok {
			return nil, fmt.Errorf("%s: type argument %T is not torch.Tensor or Parameter", f, args[1])
		}
		inner, ok := args[2].(*types.Tuple)
		if !ok {
			return nil, fmt.Errorf("%s: arguments are %T, not a tuple", f, args[2])
		}
		return fn.Call(*inner...)
	}
	return nil, fmt.Errorf("unknown rebuild function %s", string(f))
}

// setClass is builtins.set / frozenset; the result is kept as a list.
type setClass struct{}

func (setClass) Call(args ...any) (any, error) {
	l := types.NewList()
	if len(args) == 1 {
		if src, ok := args[0].(*types.List); ok {
			for _, v := range *src {
				l.Append(v)
			}
		}
	}
	return l, nil
}

// codecsEncode is _codecs.encode, accepted only as encode(str, 'latin1'),
// which is how protocol 2 pickles bytes.
type codecsEncode struct{}

func (codecsEncode) Call(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("_codecs.encode with %d arguments", len(args))
	}
	s, ok1 := args[0].(string)
	enc, ok2 := args[1].(string)
	if !ok1 || !ok2 || (enc != "latin1" && enc != "latin-1") {
		return nil, fmt.Errorf("_codecs.encode only accepted as encode(str, 'latin1')")
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, fmt.Errorf("_codecs.encode: rune %U is not latin-1", r)
		}
		out = append(out, byte(r))
	}
	return out, nil
}

// numpyDtypeClass is numpy.dtype; instances record the type code and byte order.
type numpyDtypeClass struct{}

type numpyDtype struct {
	code  string
	order string
}

func (numpyDtypeClass) Call(args ...any) (any, error) {
	d := &numpyDtype{order: "<"}
	if len(args) > 0 {
		d.code, _ = args[0].(string)
	}
	return d, nil
}

func (d *numpyDtype) PySetState(state any) error {
	if t, ok := state.(*types.Tuple); ok && t.Len() > 1 {
		if o, ok := t.Get(1).(string); ok {
			d.order = o
		}
	}
	return nil
}

// numpyScalar is numpy.core.multiarray.scalar(dtype, bytes): decoded for
// little-endian f4 f8 i4 i8 u1 b1, else a placeholder.
type numpyScalar struct{}

func (numpyScalar) Call(args ...any) (any, error) {
	if len(args) != 2 {
		return &placeholder{"numpy scalar"}, nil
	}
	d, ok := args[0].(*numpyDtype)
	b, ok2 := args[1].([]byte)
	if s, ok3 := args[1].(string); ok3 {
		b, ok2 = []byte(s), true
	}
	if !ok || !ok2 || (d.order != "<" && d.order != "|" && d.order != "=") {
		return &placeholder{"numpy scalar"}, nil
	}
	switch {
	case d.code == "f4" && len(b) == 4:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), nil
	case d.code == "f8" && len(b) == 8:
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
	case d.code == "i4" && len(b) == 4:
		return int64(int32(binary.LittleEndian.Uint32(b))), nil
	case d.code == "i8" && len(b) == 8:
		return int64(binary.LittleEndian.Uint64(b)), nil
	case d.code == "u1" && len(b) == 1:
		return int64(b[0]), nil
	case d.code == "b1" && len(b) == 1:
		return b[0] != 0, nil
	}
	return &placeholder{"numpy scalar " + d.code}, nil
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), true
		}
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func intTuple(v any) ([]int64, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("%T is not a tuple", v)
	}
	out := make([]int64, t.Len())
	for i := range out {
		n, ok := toInt64(t.Get(i))
		if !ok {
			return nil, fmt.Errorf("element %d is %T, not an int", i, t.Get(i))
		}
		out[i] = n
	}
	return out, nil
}
