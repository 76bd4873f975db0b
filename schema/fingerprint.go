package schema

import (
	"hash/maphash"
	"math"
	"reflect"
)

// fingerprintSeed is fixed for the process, so fingerprints compare.
var fingerprintSeed = maphash.MakeSeed()

// Fingerprint hashes the whole content of a tree, state leaves included:
// two trees with the same content have the same fingerprint whatever the
// order of their list maps, and any write into a tree changes it (but for
// collisions of a 64-bit hash). The element core uses it in test builds to
// prove that committed trees are never modified in place.
func Fingerprint(root any) uint64 {
	return fingerprint(reflect.ValueOf(root))
}

const fpPrime = 1099511628211

func mix(h, x uint64) uint64 { return (h ^ x) * fpPrime }

func fingerprint(v reflect.Value) uint64 {
	switch v.Kind() {
	case reflect.Invalid:
		return 1
	case reflect.Ptr, reflect.Interface:
		if v.IsNil() {
			return 2
		}
		return mix(3, fingerprint(v.Elem()))
	case reflect.Struct:
		h := uint64(4)
		for i := 0; i < v.NumField(); i++ {
			h = mix(h, fingerprint(v.Field(i)))
		}
		return h
	case reflect.Map:
		if v.IsNil() {
			return 5
		}
		// A sum does not depend on the order the map is walked in.
		var sum uint64
		for it := v.MapRange(); it.Next(); {
			sum += mix(fingerprint(it.Key()), fingerprint(it.Value()))
		}
		return mix(6, sum)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return 7
		}
		h := uint64(8)
		for i := 0; i < v.Len(); i++ {
			h = mix(h, fingerprint(v.Index(i)))
		}
		return h
	case reflect.String:
		return mix(9, maphash.String(fingerprintSeed, v.String()))
	case reflect.Bool:
		if v.Bool() {
			return 10
		}
		return 11
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return mix(12, uint64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return mix(13, v.Uint())
	case reflect.Float32, reflect.Float64:
		return mix(14, math.Float64bits(v.Float()))
	}
	return 15
}
