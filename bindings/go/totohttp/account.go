package totohttp

import (
	"encoding/json"
	"sort"

	"github.com/toto-session/toto-session/bindings/go/toto"
)

// Toto 1.0.10's toto/methods/account, as their docs describe them. Where the shipped
// code fails (account.update without "password" raises KeyError, with
// "new_password" it raises NameError after changing the password) this does what
// the docs intend.

func registerAccountMethods(s *Service) {
	s.HandleFunc("account.create", Public, accountCreate, "user_id", "password")
	s.HandleFunc("account.login", Public, accountLogin, "user_id", "password")
	s.HandleFunc("account.logout", Authenticated, accountLogout)
	s.HandleFunc("account.update", Authenticated, accountUpdate)
}

// LoginResult is the result of account.login and account.create: the session id,
// expiry and user id, plus the HMAC key when the session has one.
type LoginResult struct {
	SessionID string  `json:"session_id"`
	Expires   float64 `json:"expires"`
	UserID    string  `json:"user_id"`
	Key       string  `json:"key,omitempty"`
}

func login(c *Call, userID, password string) (*LoginResult, error) {
	sess, err := Login(c.Context, userID, password)
	if err != nil {
		return nil, err
	}
	res := &LoginResult{SessionID: sess.ID(), Expires: sess.ExpiresUnix(), UserID: sess.UserID()}
	res.Key, _ = sess.Key()
	return res, nil
}

// account.create {user_id, password, ...}: creates the account, storing every other
// parameter as an account property, then logs in.
func accountCreate(c *Call) (any, error) {
	userID, password := c.String("user_id"), c.String("password")
	values := make(map[string]json.RawMessage, len(c.Params))
	for k, v := range c.Params {
		if k != "password" { // stored hashed, never as a property
			values[k] = v
		}
	}
	js, err := json.Marshal(values)
	if err != nil {
		return nil, err
	}
	if err := c.Manager().CreateAccount(c.Context, userID, password, json.RawMessage(js)); err != nil {
		return nil, err
	}
	return login(c, userID, password)
}

// account.login {user_id, password}: a new session; the result names it.
func accountLogin(c *Call) (any, error) {
	return login(c, c.String("user_id"), c.String("password"))
}

// account.logout: removes the request's session.
func accountLogout(c *Call) (any, error) {
	if err := Logout(c.Context); err != nil {
		return nil, err
	}
	return map[string]bool{"authenticated": false}, nil
}

// account.update: "new_password" (with the current "password") changes the password
// and logs in again (the login result joins the answer, "password" the updated
// fields); every other parameter becomes an account property. The user is the
// session's; "user_id" and "password" are never properties.
func accountUpdate(c *Call) (any, error) {
	userID := c.Session().UserID()
	result := map[string]any{}
	fields := []string{}
	if c.Has("new_password") {
		if !c.Has("password") {
			return nil, &Error{Code: toto.CodeMissingParams, Value: "Missing parameters: password"}
		}
		newPassword := c.String("new_password")
		// Every session of the user goes, this one too; the new login replaces it.
		if err := c.Manager().ChangePassword(c.Context, userID, c.String("password"), newPassword, nil); err != nil {
			return nil, err
		}
		_ = Logout(c.Context)
		fields = append(fields, "password")
		lr, err := login(c, userID, newPassword)
		if err != nil {
			return nil, err
		}
		result["session_id"], result["expires"], result["user_id"] = lr.SessionID, lr.Expires, lr.UserID
		if lr.Key != "" {
			result["key"] = lr.Key
		}
	}
	var props []string
	for k := range c.Params {
		switch k {
		case "new_password", "password", "user_id":
		default:
			props = append(props, k)
		}
	}
	sort.Strings(props)
	if len(props) > 0 {
		acct, err := c.Manager().Account(userID)
		if err != nil {
			return nil, err
		}
		defer acct.Close()
		for _, k := range props {
			if err := acct.SetJSON(k, c.Params[k]); err != nil {
				return nil, err
			}
		}
		if err := acct.Save(c.Context); err != nil {
			return nil, err
		}
		fields = append(fields, props...)
	}
	result["updated_fields"] = fields
	return result, nil
}
