"""The model: what a scenario says (`scenario`) and the mathematics both engines share, one concept a module.

- `calendar`: days, plan months and periods; `budget`: the marketing plan compiled to daily drivers;
- `acquisition`: reach, awareness, first purchase, forgetting, word of mouth;
- `retention`: back-end spend's effect; `experience`: an order's outcome; `lifecycle`: what an order does
  to its customer (dropout, loyalty); `winback`: remarketing to lapsed people; `money`: values and costs;
- `base`: the customers a scenario starts with; `result`: the one result type; `kpis`: the KPIs of a result.

Engines call these functions through their modules (`acquisition.first_purchase_hazard(...)`), so a change
to one (a test perturbs them) reaches every engine.
"""
