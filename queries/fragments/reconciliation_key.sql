-- reconciliation_key: the model-name key that bills, usage and traces reconcile on, as an expression.
-- purpose: one definition of the key (its rules and known limits are in the header of
--   queries/views/reconciliation_facts.sql), shared by that view and by queries/fragments/gap_lines.sql.
--   Substitution: model, the normalised model name (a column or expression).
-- parameters: none
-- grain: one expression (a VARCHAR, NULL for a blank name).
    nullif(
        regexp_replace(
            regexp_replace(
                regexp_replace(
                    lower(trim({{model}})),
                    '^(amazon|meta|mistral|cohere|ai21|deepseek|qwen|writer|stability|twelvelabs|luma|openai|moonshot|moonshotai|minimax|nvidia)\.',
                    ''),
                '-v[0-9]+:[0-9]+$', ''),
            '-([0-9]{8}|[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}|00[0-9]|latest)$', ''),
        '')
