package reference

import "fmt"

// Role is what a layer computes (docs/MODEL.md §2.1).
type Role int

// Layer roles.
const (
	RoleMamba       Role = iota // i < L/2, i even
	RoleSWA                     // i < L/2, i odd: sliding-window self-attention
	RoleMambaMemory             // i = L/2: Mamba that also emits the GMU memory
	RoleFullKV                  // i = L/2+1: full self-attention, the only shared KV
	RoleGMU                     // i ≥ L/2+2, i even: gated memory unit
	RoleCross                   // i ≥ L/2+2, i odd (or every one without GMU): cross-attention
)

var roleNames = [...]string{"mamba", "swa", "mamba_memory", "full_kv", "gmu", "cross"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// IsMamba reports whether the layer is a Mamba mixer.
func (r Role) IsMamba() bool { return r == RoleMamba || r == RoleMambaMemory }

// IsAttention reports whether the layer is an attention mixer.
func (r Role) IsAttention() bool { return r == RoleSWA || r == RoleFullKV || r == RoleCross }

// IsSelfAttention reports whether the layer projects its own K and V.
func (r Role) IsSelfAttention() bool { return r == RoleSWA || r == RoleFullKV }

// Role returns the role of layer i. The GMU choice uses the global index
// parity (AS model.py 396–397); without GMU every cross-decoder layer is
// cross-attention and layer L/2 is a plain Mamba (docs/MODEL.md §2.3).
func (c *Config) Role(i int) Role {
	h := c.NLayer / 2
	switch {
	case i < h && i%2 == 0:
		return RoleMamba
	case i < h:
		return RoleSWA
	case i == h && c.GMU:
		return RoleMambaMemory
	case i == h:
		return RoleMamba
	case i == h+1:
		return RoleFullKV
	case c.GMU && i%2 == 0:
		return RoleGMU
	}
	return RoleCross
}

// MemoryLayer returns the index of the layer whose scan output feeds the
// GMUs (L/2), or -1 without GMU.
func (c *Config) MemoryLayer() int {
	if !c.GMU {
		return -1
	}
	return c.NLayer / 2
}

// KVLayer returns the index of the only layer whose K/V the cross layers read (L/2+1).
func (c *Config) KVLayer() int { return c.NLayer/2 + 1 }

// LambdaInit returns λinit(i) = 0.8 − 0.6·exp(−0.3·i) for layer i, computed
// in float64 (HF 1969–1970; AS diff_attn.py 25–26); with DAConstLamb, i is
// replaced by 10000.
func (c *Config) LambdaInit(i int) float64 {
	if c.DAConstLamb {
		i = 10000
	}
	return lambdaInit(i)
}

// Kind returns the layer-table name of a role: mamba, swa, full-kv, gmu or
// cross (the memory Mamba is a mamba layer; tables mark it separately).
func (r Role) Kind() string {
	switch r {
	case RoleMamba, RoleMambaMemory:
		return "mamba"
	case RoleSWA:
		return "swa"
	case RoleFullKV:
		return "full-kv"
	case RoleGMU:
		return "gmu"
	}
	return "cross"
}
