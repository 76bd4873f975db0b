package adapter

import "reflect"

// copyLeaves copies src's fields into dst's fields of the same name, both
// pointers to generated structs of identical shape (the state containers
// of the different session lists). Nested containers are allocated; a
// field missing on either side is skipped.
func copyLeaves(dst, src any) {
	copyStruct(reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem())
}

func copyStruct(d, s reflect.Value) {
	for i := 0; i < s.NumField(); i++ {
		sf := s.Field(i)
		df := d.FieldByName(s.Type().Field(i).Name)
		if !df.IsValid() || !df.CanSet() {
			continue
		}
		switch {
		case sf.Kind() == reflect.Pointer && sf.Elem().Kind() == reflect.Struct:
			if sf.IsNil() || df.Kind() != reflect.Pointer {
				continue
			}
			n := reflect.New(df.Type().Elem())
			copyStruct(n.Elem(), sf.Elem())
			df.Set(n)
		case sf.Type().AssignableTo(df.Type()):
			df.Set(sf)
		case sf.Type().ConvertibleTo(df.Type()):
			df.Set(sf.Convert(df.Type()))
		}
	}
}
