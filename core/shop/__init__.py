"""The shop: typed data (orders, products, customers, coupons), the backend interface the tools
read and write through, and the policy arithmetic (prices, shipping, returns) as exact code —
the model never does money maths."""
