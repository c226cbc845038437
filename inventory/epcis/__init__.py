"""Import and export of GS1 EPCIS 2.0 JSON-LD documents."""
