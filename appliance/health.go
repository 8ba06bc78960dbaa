package appliance

import "errors"

// Ready implements admin.Readiness (GET /readyz): the appliance serves
// traffic once a stack is attached and, with the rule engine, rules are
// loaded; it stops being ready when it starts shutting down.
func (a *Appliance) Ready() error {
	switch {
	case a.stopping.Load():
		return errors.New("shutting down")
	case a.stack.Load() == nil:
		return errors.New("no link attached yet")
	case a.det != nil && a.det.Stats().Loaded == 0:
		return errors.New("no rules loaded")
	}
	return nil
}
