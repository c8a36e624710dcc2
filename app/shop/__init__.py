"""The points shop: catalogue, coupon code pools, redemption, orders, cancel and refund."""
