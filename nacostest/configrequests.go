package nacostest

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_request"
	"github.com/nacos-group/nacos-sdk-go/v2/common/remote/rpc/rpc_response"
	"github.com/nacos-group/nacos-sdk-go/v2/model"
)

// Config requests, as Java 2.4 and 2.5 serve them (config module,
// remote/Config*RequestHandler.java, utils/ParamUtils.java), after the auth
// filter and the parameter checker (dataId, group, tenant: check.go).

// codeConfigNotFound is ConfigQueryResponse.CONFIG_NOT_FOUND. The SDK takes it
// as "no such config": GetConfig returns "" without an error.
const codeConfigNotFound = 300

// configRequest returns the common part of a config request, which the
// decoder leaves nil when the body lacks all of its fields.
func configRequest(r *rpc_request.ConfigRequest) rpc_request.ConfigRequest {
	if r == nil {
		return rpc_request.ConfigRequest{}
	}
	return *r
}

func configKeyOf(s *Server, r *rpc_request.ConfigRequest) configKey {
	c := configRequest(r)
	return s.backend.configs.key(c.Tenant, c.Group, c.DataId)
}

func configParams(r *rpc_request.ConfigRequest) []paramInfo {
	c := configRequest(r)
	return []paramInfo{{namespaceID: c.Tenant, dataID: c.DataId, group: c.Group}}
}

func batchListenParams(req *rpc_request.ConfigBatchListenRequest) []paramInfo {
	infos := []paramInfo{}
	for _, l := range req.ConfigListenContexts {
		infos = append(infos, paramInfo{namespaceID: l.Tenant, dataID: l.DataId, group: l.Group})
	}
	return infos
}

// validParam is ParamUtils.isValid: letters, digits and _ - . : only.
func validParam(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("_-.:", r)
	})
}

// tagProblem is ParamUtils.checkParam(tag).
func tagProblem(tag string) string {
	switch {
	case isBlank(tag):
		return ""
	case !validParam(strings.TrimSpace(tag)):
		return "invalid tag : " + tag
	case javaLength(tag) > 16:
		return "too long tag, over 16"
	}
	return ""
}

// publishProblem is ParamUtils.checkParam(dataId, group, datumId, content).
func (st *configStore) publishProblem(k configKey, content string) string {
	switch {
	case isBlank(k.dataID) || !validParam(strings.TrimSpace(k.dataID)):
		return "invalid dataId : " + k.dataID
	case isBlank(k.group) || !validParam(k.group):
		return "invalid group : " + k.group
	case isBlank(content):
		return "content is blank : " + content
	case javaLength(content) > st.maxContent:
		return fmt.Sprintf("invalid content, over %d", st.maxContent)
	}
	return ""
}

// advanceInfoProblem is ParamUtils.checkParam(configAdvanceInfo) of Java 2.4,
// for the fields the SDK sends.
func advanceInfoProblem(additions map[string]string) string {
	if tags := additions["config_tags"]; tags != "" {
		split := strings.Split(tags, ",")
		if len(split) > 5 {
			return "too much config_tags, over 5"
		}
		for _, tag := range split {
			if javaLength(tag) > 64 {
				return "too long tag, over 64"
			}
		}
	}
	if javaLength(additions["type"]) > 32 {
		return "too long type, over 32"
	}
	return ""
}

func handleConfigQuery(s *Server, _ *connection, req *rpc_request.ConfigQueryRequest) reply {
	if problem := tagProblem(req.Tag); problem != "" {
		return respond(&rpc_response.ConfigQueryResponse{Response: failed(resultFail, resultFail, problem)})
	}
	item, ok := s.backend.configs.get(configKeyOf(s, req.ConfigRequest))
	if !ok || !isBlank(req.Tag) { // tagged (gray) configs are not kept
		return respond(&rpc_response.ConfigQueryResponse{Response: failed(resultFail, codeConfigNotFound, "config data not exist")})
	}
	return respond(&rpc_response.ConfigQueryResponse{
		Response:     succeeded(),
		Content:      item.content,
		Md5:          item.md5,
		ContentType:  item.contentType,
		LastModified: item.lastModified,
	})
}

func handleConfigPublish(s *Server, _ *connection, req *rpc_request.ConfigPublishRequest) reply {
	k := configKeyOf(s, req.ConfigRequest)
	fail := func(errorCode int, message string) reply {
		return respond(&rpc_response.ConfigPublishResponse{Response: failed(resultFail, errorCode, message)})
	}
	if problem := s.backend.configs.publishProblem(k, req.Content); problem != "" {
		return fail(codeInvalidParam, problem)
	}
	if problem := tagProblem(req.AdditionMap["tag"]); problem != "" {
		return fail(codeServerError, problem)
	}
	if problem := advanceInfoProblem(req.AdditionMap); problem != "" {
		return fail(codeInvalidParam, problem)
	}
	if !isBlank(req.AdditionMap["tag"]) || !isBlank(req.AdditionMap["betaIps"]) {
		return fail(codeServerError, "nacostest: tag and beta (gray) configs are not served")
	}
	if !s.backend.configs.publish(k, req.Content, req.CasMd5, req.AdditionMap["type"]) {
		return fail(resultFail, "Cas publish fail, server md5 may have changed.")
	}
	return respond(&rpc_response.ConfigPublishResponse{Response: succeeded()})
}

func handleConfigRemove(s *Server, _ *connection, req *rpc_request.ConfigRemoveRequest) reply {
	k := configKeyOf(s, req.ConfigRequest)
	// ParamUtils.checkParam(dataId, group, "datumId", "rm"); Java answers its
	// failures without an error code.
	if problem := s.backend.configs.publishProblem(k, "rm"); problem != "" {
		return respond(&rpc_response.ConfigRemoveResponse{Response: failed(resultFail, 0, problem)})
	}
	s.backend.configs.remove(k)
	return respond(&rpc_response.ConfigRemoveResponse{Response: succeeded()})
}

// handleConfigBatchListen adds or removes the connection's listeners and, when
// listening, answers the configs whose md5 differs from the client's.
func handleConfigBatchListen(s *Server, c *connection, req *rpc_request.ConfigBatchListenRequest) reply {
	changed := []model.ConfigContext{}
	for _, l := range req.ConfigListenContexts {
		k := s.backend.configs.listenKey(l.Tenant, l.Group, l.DataId)
		if !req.Listen {
			s.backend.configs.unlisten(c, k)
			continue
		}
		if s.backend.configs.listen(c, k, l.Tenant, l.Md5) {
			changed = append(changed, model.ConfigContext{Group: l.Group, DataId: l.DataId, Tenant: l.Tenant})
		}
	}
	return respond(&rpc_response.ConfigChangeBatchListenResponse{Response: succeeded(), ChangedConfigs: changed})
}
