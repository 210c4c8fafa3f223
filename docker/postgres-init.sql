-- One server, three databases: Socle, Moodle and the LRS (first start of the postgres volume only).
-- The passwords are the compose defaults; change them with ALTER ROLE … PASSWORD in production.
CREATE ROLE socle LOGIN PASSWORD 'socle';
CREATE DATABASE socle OWNER socle;
CREATE ROLE moodle LOGIN PASSWORD 'moodle';
CREATE DATABASE moodle OWNER moodle;
CREATE ROLE lrsql LOGIN PASSWORD 'lrsql';
CREATE DATABASE lrsql OWNER lrsql;
