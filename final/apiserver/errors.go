package apiserver

import "errors"

var errNoStreaming = errors.New("streaming is not supported by this connection")
