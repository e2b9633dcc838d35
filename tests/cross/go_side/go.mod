module crossgo

go 1.19

require github.com/toto-session/toto-session/bindings/go v0.0.0

replace github.com/toto-session/toto-session/bindings/go => ../../../bindings/go
