//! Install logic run inside the image build: extras, constraints, pip command lines, context files.
