module github.com/toto-session/toto-session/bindings/go

go 1.19
