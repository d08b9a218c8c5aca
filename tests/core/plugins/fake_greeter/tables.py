from piccolo.columns import Varchar
from piccolo.table import Table


class Greeting(Table, tablename="greeter_greeting"):
    text = Varchar(length=200)
