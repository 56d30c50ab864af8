"""The strategy report: figure data (`data`), plots, playbook rules, the English/Korean catalog (`i18n`),
HTML pieces (`markup`), the parameterized notebook and its rendering pipeline (`render`: `execute`, then `convert`)."""
