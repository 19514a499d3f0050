{#- Generic test: exactly one row of the model satisfies the expression. -#}
{% test exactly_one_row_where(model, expression) %}
select count(*) as matching
from {{ model }}
where {{ expression }}
having count(*) <> 1
{% endtest %}
