"""The wording a consignee notice starts from (21 CFR 7.49: brief and to the point).

It is a Django template. Variables: `urgent` (URGENT for Class I and II, else empty),
`campaign` (reference, title, reason, hazard, classification and the rest of the campaign),
`company` (our name), `consignee` (name, contact_name), `items` (each: label, quantity, unit,
shipped_at), `products` (the SKUs and names concerned), `drill` (true in a mock recall).
"""

SUBJECT = (
    "{% if drill %}[MOCK RECALL - DRILL] {% endif %}{% if urgent %}{{ urgent }}: {% endif %}"
    "Product recall {{ campaign.reference }} - {{ campaign.title }}"
)

BODY = """{% if drill %}THIS IS A MOCK RECALL (DRILL). NO PRODUCT IS ACTUALLY RECALLED.

{% endif %}{% if urgent %}{{ urgent }}: {% endif %}{{ campaign.get_classification_display }} \
{% if campaign.is_drill %}mock {% endif %}recall {{ campaign.reference }}

To: {{ consignee.name }}{% if consignee.contact_name %}, attention {{ consignee.contact_name }}\
{% endif %}
From: {{ company }}

{{ company }} is recalling the products below{% if campaign.depth %} to the \
{{ campaign.get_depth_display }} level{% endif %}.

Reason: {{ campaign.reason }}
{% if campaign.hazard %}Hazard: {{ campaign.hazard }}
{% endif %}
Our records show that you received:
{% for item in items %}  - {{ item.label }}: {{ item.quantity }} {{ item.unit }}\
{% if item.shipped_at %}, shipped {{ item.shipped_at|date:"Y-m-d" }}{% endif %}
{% endfor %}
What to do now:
  1. Stop using, selling and shipping these products at once, and set them apart.
  2. Count what you still hold and tell us the quantity, even if it is none.
  3. If you passed any of it on, tell your customers at once, or send us their names.
  4. Return or destroy the products as we instruct, and tell us the quantities.

Please answer within 48 hours, quoting {{ campaign.reference }}, even if you hold none of \
these products.
"""
