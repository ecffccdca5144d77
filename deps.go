package nacos
import (
 _ "github.com/asim/go-micro/v3"
 _ "github.com/asim/go-micro/v3/cmd"
 _ "github.com/nacos-group/nacos-sdk-go/v2/clients"
 _ "github.com/nacos-group/nacos-sdk-go/v2/api/grpc"
 _ "go.uber.org/goleak"
)
