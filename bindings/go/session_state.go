package toto

// Set stores v under key in the session state: nil -> null, bool, any integer, float32
// and float64, string -> text, []byte -> bytes, json.RawMessage as JSON text, anything
// else (structs, maps, slices...) through encoding/json. A stored false, 0 or "" reads
// back as itself. The session becomes dirty; Manager.SaveSession writes it.
func (s *Session) Set(key string, v any) error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.unlock()
	return valueIO{s: p}.set(key, v)
}

// Get reads the value under key into dst, a non-nil pointer. *bool, integer, float,
// *string and *[]byte destinations use the typed getters (ErrTypeMismatch for a value
// of another type; a float destination also accepts an integer); *any receives nil,
// bool, int64 (uint64 above MaxInt64), float64, string, []byte, or what encoding/json
// makes of an array or map; any other destination is decoded from the value's JSON
// form with encoding/json (bytes appear there as base64 text). ErrNotFound when the
// key is missing.
func (s *Session) Get(key string, dst any) error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.unlock()
	return valueIO{s: p}.get(key, dst)
}

// Type is the type of the value under key.
func (s *Session) Type(key string) (ValueType, error) {
	p, err := s.lock()
	if err != nil {
		return 0, err
	}
	defer s.unlock()
	return valueIO{s: p}.getType(key)
}

// GetCBOR reads any value as one CBOR item.
func (s *Session) GetCBOR(key string) ([]byte, error) {
	p, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer s.unlock()
	return valueIO{s: p}.getCBOR(key)
}

// SetCBOR stores any value given as one CBOR item.
func (s *Session) SetCBOR(key string, cbor []byte) error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.unlock()
	return valueIO{s: p}.setCBOR(key, cbor)
}

// GetJSON reads any value as compact JSON text (bytes as base64 text).
func (s *Session) GetJSON(key string) ([]byte, error) {
	p, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer s.unlock()
	return valueIO{s: p}.getJSON(key)
}

// SetJSON stores any value given as JSON text (objects become maps).
func (s *Session) SetJSON(key string, json []byte) error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.unlock()
	return valueIO{s: p}.setJSON(key, json)
}
